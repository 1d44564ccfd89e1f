package io.polybridge.client;

import io.polybridge.codecs.RequestEncoder;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;
import java.util.Map;
import java.util.Objects;

/**
 * Checks a call's metadata against the protocol's limits and writes it as the Request's metadata group
 * straight from the strings: no byte arrays per call (UTF-8 is measured and written char by char).
 * The limits are the same in every language, so a frame Java sends is never one a worker refuses.
 */
final class RequestMetadata
{
    private static final int ENTRY_HEADERS =
        RequestEncoder.MetadataEncoder.keyHeaderLength() + RequestEncoder.MetadataEncoder.valueHeaderLength();

    private RequestMetadata()
    {
    }

    /**
     * Validate the metadata and return the bytes its entries take (excluding the group header).
     *
     * @throws IllegalArgumentException saying which entry breaks which limit.
     */
    static int validate(final Map<String, String> metadata)
    {
        Objects.requireNonNull(metadata, "metadata must not be null; use Map.of() for none");
        final int size = metadata.size();
        if (size == 0)
        {
            return 0;
        }
        if (size > PolybridgeClient.MAX_METADATA_ENTRIES)
        {
            throw new IllegalArgumentException("at most " + PolybridgeClient.MAX_METADATA_ENTRIES +
                " metadata entries per call, were " + size + "; send bulky data in the payload");
        }
        int length = 0;
        for (final Map.Entry<String, String> entry : metadata.entrySet())
        {
            final String key = entry.getKey();
            final String value = entry.getValue();
            if (key == null)
            {
                throw new IllegalArgumentException("metadata keys must not be null");
            }
            if (value == null)
            {
                throw new IllegalArgumentException("metadata value of '" + key + "' must not be null; use \"\"");
            }
            // Strings with no unpaired surrogate have distinct UTF-8: the map's unique keys stay unique.
            final int keyBytes = utf8Length(key, "key");
            if (keyBytes < 1 || keyBytes > PolybridgeClient.MAX_METADATA_KEY_BYTES)
            {
                throw new IllegalArgumentException("metadata keys are 1 to " + PolybridgeClient.MAX_METADATA_KEY_BYTES +
                    " bytes of UTF-8, '" + abbreviate(key) + "' has " + keyBytes);
            }
            final int valueBytes = utf8Length(value, "value");
            if (valueBytes > PolybridgeClient.MAX_METADATA_VALUE_BYTES)
            {
                throw new IllegalArgumentException("metadata values are at most " +
                    PolybridgeClient.MAX_METADATA_VALUE_BYTES + " bytes of UTF-8, the value of '" + abbreviate(key) +
                    "' has " + valueBytes + "; send bulky data in the payload");
            }
            length += ENTRY_HEADERS + keyBytes + valueBytes;
        }
        return length;
    }

    /**
     * Write the metadata group (count and entries) at the encoder's limit, after the fixed block; the
     * metadata must have passed {@link #validate(Map)}.
     */
    static void encode(final RequestEncoder encoder, final Map<String, String> metadata)
    {
        final RequestEncoder.MetadataEncoder group = encoder.metadataCount(metadata.size());
        if (metadata.isEmpty())
        {
            return;
        }
        final MutableDirectBuffer buffer = encoder.buffer();
        for (final Map.Entry<String, String> entry : metadata.entrySet())
        {
            group.next();
            encoder.limit(putString(buffer, encoder.limit(), entry.getKey()));
            encoder.limit(putString(buffer, encoder.limit(), entry.getValue()));
        }
    }

    /** A varStringEncoding: uint16 length, then the UTF-8 bytes. */
    private static int putString(final MutableDirectBuffer buffer, final int index, final String value)
    {
        int at = index + 2;
        for (int i = 0, n = value.length(); i < n; i++)
        {
            final char c = value.charAt(i);
            if (c < 0x80)
            {
                buffer.putByte(at++, (byte)c);
            }
            else if (c < 0x800)
            {
                buffer.putByte(at++, (byte)(0xC0 | (c >> 6)));
                buffer.putByte(at++, (byte)(0x80 | (c & 0x3F)));
            }
            else if (Character.isHighSurrogate(c))
            {
                final int cp = Character.toCodePoint(c, value.charAt(++i)); // validated: a pair
                buffer.putByte(at++, (byte)(0xF0 | (cp >> 18)));
                buffer.putByte(at++, (byte)(0x80 | ((cp >> 12) & 0x3F)));
                buffer.putByte(at++, (byte)(0x80 | ((cp >> 6) & 0x3F)));
                buffer.putByte(at++, (byte)(0x80 | (cp & 0x3F)));
            }
            else
            {
                buffer.putByte(at++, (byte)(0xE0 | (c >> 12)));
                buffer.putByte(at++, (byte)(0x80 | ((c >> 6) & 0x3F)));
                buffer.putByte(at++, (byte)(0x80 | (c & 0x3F)));
            }
        }
        buffer.putShort(index, (short)(at - index - 2), ByteOrder.LITTLE_ENDIAN);
        return at;
    }

    /** UTF-8 length of a string, refusing unpaired surrogates (they have no UTF-8). */
    static int utf8Length(final String value, final String what)
    {
        int length = 0;
        for (int i = 0, n = value.length(); i < n; i++)
        {
            final char c = value.charAt(i);
            if (c < 0x80)
            {
                length += 1;
            }
            else if (c < 0x800)
            {
                length += 2;
            }
            else if (Character.isSurrogate(c))
            {
                if (!Character.isHighSurrogate(c) || i + 1 == n || !Character.isLowSurrogate(value.charAt(i + 1)))
                {
                    throw new IllegalArgumentException("metadata " + what + " '" + abbreviate(value) +
                        "' has an unpaired surrogate at index " + i + ", which has no UTF-8 form");
                }
                i++;
                length += 4;
            }
            else
            {
                length += 3;
            }
        }
        return length;
    }

    private static String abbreviate(final String value)
    {
        return value.length() <= 40 ? value : value.substring(0, 40) + "...";
    }
}
