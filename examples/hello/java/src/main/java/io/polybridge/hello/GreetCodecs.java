package io.polybridge.hello;

import io.polybridge.client.MessageCodec;
import io.polybridge.hello.codecs.GreetEncoder;
import io.polybridge.hello.codecs.GreetingDecoder;
import io.polybridge.hello.codecs.MessageHeaderDecoder;
import io.polybridge.hello.codecs.MessageHeaderEncoder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * {@link MessageCodec}s over hello.xml's generated SBE codecs: the request is Greet{name}, the response
 * Greeting{text}, each one message (8-byte header + body). Only the directions Java needs are written.
 */
final class GreetCodecs
{
    static final MessageCodec<String> GREET = new MessageCodec<>()
    {
        public int encode(final String name, final MutableDirectBuffer buffer, final int offset)
        {
            final GreetEncoder encoder = new GreetEncoder().wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder());
            return MessageHeaderEncoder.ENCODED_LENGTH + encoder.name(name).encodedLength();
        }

        public String decode(final DirectBuffer buffer, final int offset, final int length)
        {
            throw new UnsupportedOperationException("Java only sends Greet");
        }
    };

    static final MessageCodec<String> GREETING = new MessageCodec<>()
    {
        public int encode(final String text, final MutableDirectBuffer buffer, final int offset)
        {
            throw new UnsupportedOperationException("Java only receives Greeting");
        }

        public String decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final UnsafeBuffer view = new UnsafeBuffer(buffer, offset, length); // bounds checks stop at the payload
            try
            {
                final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(view, 0);
                if (header.schemaId() != GreetingDecoder.SCHEMA_ID || header.templateId() != GreetingDecoder.TEMPLATE_ID)
                {
                    throw new IllegalArgumentException("not a Greeting: schema " + header.schemaId() + " template " +
                        header.templateId());
                }
                final GreetingDecoder decoder = new GreetingDecoder().wrapAndApplyHeader(view, 0, header);
                final String text = decoder.text();
                if (MessageHeaderDecoder.ENCODED_LENGTH + decoder.encodedLength() != length)
                {
                    throw new IllegalArgumentException("a Greeting followed by more bytes");
                }
                return text;
            }
            catch (final IndexOutOfBoundsException ex)
            {
                throw new IllegalArgumentException("a malformed Greeting: " + ex.getMessage(), ex);
            }
        }
    };

    private GreetCodecs()
    {
    }
}
