package io.polybridge.chaos;

/**
 * Just enough JSON writing for one object per line: strings escaped per RFC 8259.
 */
public final class Json
{
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private Json()
    {
    }

    /**
     * Append a JSON string literal: quotes, backslashes and control characters escaped; lone
     * surrogates (not representable in UTF-8) replaced by U+FFFD; everything else as is.
     *
     * @param out   where to append.
     * @param value the string; null appends {@code null}.
     * @return out.
     */
    public static StringBuilder string(final StringBuilder out, final String value)
    {
        if (value == null)
        {
            return out.append("null");
        }
        out.append('"');
        for (int i = 0, length = value.length(); i < length; i++)
        {
            final char c = value.charAt(i);
            switch (c)
            {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default ->
                {
                    if (c < 0x20 || c == 0x2028 || c == 0x2029 || c == 0x7f)
                    {
                        unicodeEscape(out, c);
                    }
                    else if (Character.isHighSurrogate(c) && i + 1 < length && Character.isLowSurrogate(value.charAt(i + 1)))
                    {
                        out.append(c).append(value.charAt(++i));
                    }
                    else if (Character.isSurrogate(c))
                    {
                        out.append('\ufffd');
                    }
                    else
                    {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"');
    }

    private static void unicodeEscape(final StringBuilder out, final char c)
    {
        out.append("\\u").append(HEX[(c >> 12) & 0xF]).append(HEX[(c >> 8) & 0xF])
            .append(HEX[(c >> 4) & 0xF]).append(HEX[c & 0xF]);
    }
}
