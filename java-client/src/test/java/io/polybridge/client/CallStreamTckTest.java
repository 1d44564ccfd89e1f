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
    public void start() throws InterruptedException
    {
        settleReferenceHandler();
        driver = EmbeddedMediaDriver.launch();
        echo = new JavaEchoWorker(driver.aeronDirectoryName());
        client = PolybridgeClient.connect(new PolybridgeClient.Context().aeronDirectoryName(driver.aeronDirectoryName()));
        worker = client.awaitWorker(JavaEchoWorker.WORKER_ID, Duration.ofSeconds(30));
    }

    /**
     * Rule 3.13 is judged by one System.gc() and then at most 1 s for the subscriber's weak reference to be
     * enqueued. Enqueuing is the Reference Handler thread's job, and that thread also runs the cleaners of
     * direct and mapped buffers (unmapping them). A test class before this one in the same JVM may leave
     * hundreds of MiB of mapped payload regions for it, which took it over the second here. So the pending
     * references are drained first: a sentinel's weak reference enqueued after a GC means they are.
     */
    private static void settleReferenceHandler() throws InterruptedException
    {
        final java.lang.ref.ReferenceQueue<Object> queue = new java.lang.ref.ReferenceQueue<>();
        final java.lang.ref.WeakReference<Object> sentinel = new java.lang.ref.WeakReference<>(new Object(), queue);
        System.gc();
        if (queue.remove(30_000) != sentinel)
        {
            throw new IllegalStateException("the Reference Handler did not enqueue a cleared reference within 30 s");
        }
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
