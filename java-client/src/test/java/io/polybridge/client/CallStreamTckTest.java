package io.polybridge.client;

import io.polybridge.driver.EmbeddedMediaDriver;
import org.agrona.CloseHelper;
import org.reactivestreams.tck.TestEnvironment;
import org.reactivestreams.tck.flow.FlowPublisherVerification;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;

import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.Flow;

/**
 * The Reactive Streams TCK, written by others, judges {@link WorkerStub#stream}: every required rule
 * for a Publisher, against real calls through a media driver to an echo worker.
 */
public class CallStreamTckTest extends FlowPublisherVerification<byte[]>
{
    private EmbeddedMediaDriver driver;
    private JavaEchoWorker echo;
    private PolybridgeClient client;
    private WorkerStub worker;

    public CallStreamTckTest()
    {
        // Noisy 2-core machines: allow 500 ms per expected signal instead of the default 100 ms.
        super(new TestEnvironment(500, 100), 1000);
    }

    @BeforeClass
    public void start()
    {
        driver = EmbeddedMediaDriver.launch();
        echo = new JavaEchoWorker(driver.aeronDirectoryName());
        client = PolybridgeClient.connect(new PolybridgeClient.Context().aeronDirectoryName(driver.aeronDirectoryName()));
        worker = client.awaitWorker(JavaEchoWorker.WORKER_ID, Duration.ofSeconds(30));
    }

    @AfterClass
    public void stop()
    {
        CloseHelper.closeAll(client, echo, driver);
    }

    public Flow.Publisher<byte[]> createFlowPublisher(final long elements)
    {
        return worker.stream("echo", () -> new Iterator<>()
        {
            private long sent;

            public boolean hasNext()
            {
                return sent < elements;
            }

            public byte[] next()
            {
                final long index = sent++;
                return new byte[]{ (byte)index, (byte)(index >> 8) };
            }
        }, Duration.ofSeconds(10), 16);
    }

    public Flow.Publisher<byte[]> createFailedFlowPublisher()
    {
        return worker.stream("echo", () ->
        {
            throw new IllegalStateException("the request source is broken");
        }, Duration.ofSeconds(10), 16);
    }
}
