package io.polybridge.codecs;

import io.polybridge.codecs.GoldenVectors.Vector;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The golden vectors of schema/golden/README.md: encoding each logical value must give the bytes
 * on disk, and decoding the bytes must give the value back. Go and Rust run the same checks, so
 * the three languages agree byte for byte. Run with {@code -Dgolden.write=true} to rewrite them
 * ({@link GoldenVectors}).
 */
class GoldenVectorsTest
{
    static final String UDP_REPLY_CHANNEL = "aeron:udp?endpoint=10.42.0.1:41000";
    static final String UDP_REQUEST_CHANNEL = "aeron:udp?endpoint=10.42.0.2:40100";
    /** Region ids are the owner's pid in the high 32 bits and a random nonce in the low 32. */
    static final long REQUEST_REGION_ID = 0x0000_3039_2A2B_2C2DL;
    static final long RESPONSE_REGION_ID = 0x0000_303A_0102_0304L;
    static final String UNICODE_ERROR = "handler failed: Ünïcödé ✓ 日本語 🚀";

    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();

    private static final Path GOLDEN = CommittedCodecs.repositoryRoot().resolve("schema/golden");

    @TestFactory
    Stream<DynamicTest> everyVectorEncodesToItsFileAndDecodesBack()
    {
        return GoldenVectors.encodeToTheirFilesAndDecodeBack(GOLDEN, vectors());
    }

    @Test
    void everyFileInTheGoldenDirectoryIsAVector() throws IOException
    {
        GoldenVectors.assertEveryFileIsAVector(GOLDEN, vectors());
    }

    static byte[] pattern(final int length)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(i * 31 + 7);
        }
        return bytes;
    }

    List<Vector> vectors()
    {
        final List<Vector> vectors = new ArrayList<>();
        vectors.add(request(
            "request-echo.bin", 0x0102030405060708L, 5_000_000_000L, 1001, List.of(), "", "echo", pattern(256)));
        vectors.add(request("request-empty.bin", 0, 0, 0, List.of(), "", "", new byte[0]));
        vectors.add(request(
            "request-large.bin", -1, Long.MAX_VALUE, Integer.MAX_VALUE, List.of(), "", "wappalyzer.fingerprint",
            pattern(100_000)));
        vectors.add(request(
            "request-metadata.bin", 9, 1_000_000L, 1002, requestMetadata(), UDP_REPLY_CHANNEL, "echo", pattern(16)));
        vectors.add(response("response-ok.bin", 42, ErrorCode.OK, "", "pong".getBytes(StandardCharsets.US_ASCII)));
        vectors.add(response("response-error.bin", -42, ErrorCode.HANDLER_ERROR, UNICODE_ERROR, new byte[0]));
        vectors.add(request(
            "request-region.bin", 11, 2_000_000_000L, 1001, List.of(), "", "checksum", new byte[0],
            REQUEST_REGION_ID, 12_288, 8_388_608));
        vectors.add(response(
            "response-region.bin", 11, ErrorCode.OK, "", new byte[0], RESPONSE_REGION_ID, 0, 8_388_608));
        vectors.add(payloadRelease("payload-release.bin", 11, 1001, RESPONSE_REGION_ID, 0));
        vectors.add(cancel("cancel.bin", ""));
        vectors.add(cancel("cancel-udp.bin", UDP_REPLY_CHANNEL));
        vectors.add(announcement(
            "announcement-go.bin", Language.GO, 4242, 2001, RESPONSE_REGION_ID, List.of("echo", "wappalyzer.fingerprint"),
            "go-0", UDP_REQUEST_CHANNEL));
        vectors.add(announcement("announcement-empty.bin", Language.RUST, 0, 0, 0, List.of(), "", ""));
        return vectors;
    }

    static List<String[]> requestMetadata()
    {
        return List.of(
            new String[]{ "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
            new String[]{ "tenant", "ünïcode ✓" },
            new String[]{ "empty", "" });
    }

    private Vector request(
        final String file,
        final long correlationId,
        final long timeoutNs,
        final int replyStreamId,
        final List<String[]> metadata,
        final String replyChannel,
        final String handler,
        final byte[] payload)
    {
        return request(file, correlationId, timeoutNs, replyStreamId, metadata, replyChannel, handler, payload, 0, 0, 0);
    }

    private Vector request(
        final String file,
        final long correlationId,
        final long timeoutNs,
        final int replyStreamId,
        final List<String[]> metadata,
        final String replyChannel,
        final String handler,
        final byte[] payload,
        final long regionId,
        final long regionOffset,
        final long regionLength)
    {
        return new Vector(
            file,
            (buffer) ->
            {
                final RequestEncoder encoder = new RequestEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
                    .correlationId(correlationId).timeoutNs(timeoutNs).replyStreamId(replyStreamId)
                    .regionId(regionId).regionOffset(regionOffset).regionLength(regionLength);
                final RequestEncoder.MetadataEncoder entries = encoder.metadataCount(metadata.size());
                for (final String[] entry : metadata)
                {
                    entries.next().key(entry[0]).value(entry[1]);
                }
                encoder.replyChannel(replyChannel).handler(handler).putPayload(payload, 0, payload.length);
                return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            },
            (buffer) ->
            {
                final RequestDecoder decoder = new RequestDecoder().wrapAndApplyHeader(buffer, 0, headerDecoder);
                assertEquals(correlationId, decoder.correlationId());
                assertEquals(timeoutNs, decoder.timeoutNs());
                assertEquals(replyStreamId, decoder.replyStreamId());
                assertEquals(regionId, decoder.regionId());
                assertEquals(regionOffset, decoder.regionOffset());
                assertEquals(regionLength, decoder.regionLength());
                final List<String[]> decodedMetadata = new ArrayList<>();
                for (final RequestDecoder.MetadataDecoder entry : decoder.metadata())
                {
                    decodedMetadata.add(new String[]{ entry.key(), entry.value() });
                }
                assertEquals(metadata.size(), decodedMetadata.size());
                for (int i = 0; i < metadata.size(); i++)
                {
                    assertArrayEquals(metadata.get(i), decodedMetadata.get(i));
                }
                assertEquals(replyChannel, decoder.replyChannel());
                assertEquals(handler, decoder.handler());
                final byte[] decoded = new byte[decoder.payloadLength()];
                decoder.getPayload(decoded, 0, decoded.length);
                assertArrayEquals(payload, decoded);
                assertEquals(buffer.capacity(), MessageHeaderDecoder.ENCODED_LENGTH + decoder.encodedLength());
            });
    }

    private Vector response(
        final String file, final long correlationId, final ErrorCode code, final String message, final byte[] payload)
    {
        return response(file, correlationId, code, message, payload, 0, 0, 0);
    }

    private Vector response(
        final String file,
        final long correlationId,
        final ErrorCode code,
        final String message,
        final byte[] payload,
        final long regionId,
        final long regionOffset,
        final long regionLength)
    {
        return new Vector(
            file,
            (buffer) ->
            {
                final ResponseEncoder encoder = new ResponseEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
                    .correlationId(correlationId).errorCode(code)
                    .regionId(regionId).regionOffset(regionOffset).regionLength(regionLength)
                    .errorMessage(message)
                    .putPayload(payload, 0, payload.length);
                return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            },
            (buffer) ->
            {
                final ResponseDecoder decoder = new ResponseDecoder().wrapAndApplyHeader(buffer, 0, headerDecoder);
                assertEquals(correlationId, decoder.correlationId());
                assertEquals(code, decoder.errorCode());
                assertEquals(regionId, decoder.regionId());
                assertEquals(regionOffset, decoder.regionOffset());
                assertEquals(regionLength, decoder.regionLength());
                assertEquals(message, decoder.errorMessage());
                final byte[] decoded = new byte[decoder.payloadLength()];
                decoder.getPayload(decoded, 0, decoded.length);
                assertArrayEquals(payload, decoded);
            });
    }

    private Vector payloadRelease(
        final String file, final long correlationId, final int replyStreamId, final long regionId, final long regionOffset)
    {
        return new Vector(
            file,
            (buffer) ->
            {
                final PayloadReleaseEncoder encoder = new PayloadReleaseEncoder()
                    .wrapAndApplyHeader(buffer, 0, headerEncoder)
                    .correlationId(correlationId).replyStreamId(replyStreamId)
                    .regionId(regionId).regionOffset(regionOffset);
                return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            },
            (buffer) ->
            {
                final PayloadReleaseDecoder decoder = new PayloadReleaseDecoder()
                    .wrapAndApplyHeader(buffer, 0, headerDecoder);
                assertEquals(correlationId, decoder.correlationId());
                assertEquals(replyStreamId, decoder.replyStreamId());
                assertEquals(regionId, decoder.regionId());
                assertEquals(regionOffset, decoder.regionOffset());
            });
    }

    private Vector cancel(final String file, final String replyChannel)
    {
        return new Vector(
            file,
            (buffer) ->
            {
                final CancelEncoder encoder = new CancelEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
                    .correlationId(7).replyStreamId(1001).replyChannel(replyChannel);
                return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            },
            (buffer) ->
            {
                final CancelDecoder decoder = new CancelDecoder().wrapAndApplyHeader(buffer, 0, headerDecoder);
                assertEquals(7, decoder.correlationId());
                assertEquals(1001, decoder.replyStreamId());
                assertEquals(replyChannel, decoder.replyChannel());
            });
    }

    private Vector announcement(
        final String file,
        final Language language,
        final long pid,
        final int requestStreamId,
        final long regionId,
        final List<String> handlers,
        final String workerId,
        final String requestChannel)
    {
        return new Vector(
            file,
            (buffer) ->
            {
                final WorkerAnnouncementEncoder encoder = new WorkerAnnouncementEncoder()
                    .wrapAndApplyHeader(buffer, 0, headerEncoder)
                    .schemaId(WorkerAnnouncementEncoder.SCHEMA_ID)
                    .schemaVersion(WorkerAnnouncementEncoder.SCHEMA_VERSION)
                    .language(language).pid(pid).requestStreamId(requestStreamId).regionId(regionId);
                final WorkerAnnouncementEncoder.HandlersEncoder group = encoder.handlersCount(handlers.size());
                for (final String handler : handlers)
                {
                    group.next().name(handler);
                }
                encoder.workerId(workerId).requestChannel(requestChannel);
                return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            },
            (buffer) ->
            {
                final WorkerAnnouncementDecoder decoder = new WorkerAnnouncementDecoder()
                    .wrapAndApplyHeader(buffer, 0, headerDecoder);
                assertEquals(7101, decoder.schemaId());
                assertEquals(3, decoder.schemaVersion());
                assertEquals(language, decoder.language());
                assertEquals(pid, decoder.pid());
                assertEquals(requestStreamId, decoder.requestStreamId());
                assertEquals(regionId, decoder.regionId());
                final List<String> decoded = new ArrayList<>();
                for (final WorkerAnnouncementDecoder.HandlersDecoder handler : decoder.handlers())
                {
                    decoded.add(handler.name());
                }
                assertEquals(handlers, decoded);
                assertEquals(workerId, decoder.workerId());
                assertEquals(requestChannel, decoder.requestChannel());
            });
    }
}
