package io.polybridge.chaos;


/**
 * Just enough JSON writing for the report: nested objects and arrays, commas placed by the writer.
 * Values are written in the order given; nothing is buffered beyond the {@link StringBuilder}.
 */
final class JsonOut
{
    private final StringBuilder out = new StringBuilder(4096);
    private final boolean[] first = new boolean[64];
    private int depth;

    JsonOut()
    {
        first[0] = true;
    }

    JsonOut beginObject()
    {
        value();
        out.append('{');
        first[++depth] = true;
        return this;
    }

    JsonOut beginObject(final String name)
    {
        return name(name).beginObjectNoComma();
    }

    JsonOut endObject()
    {
        depth--;
        out.append('}');
        return this;
    }

    JsonOut beginArray(final String name)
    {
        name(name);
        out.append('[');
        first[++depth] = true;
        return this;
    }

    JsonOut endArray()
    {
        depth--;
        out.append(']');
        return this;
    }

    JsonOut field(final String name, final String value)
    {
        name(name);
        Json.string(out, value);
        return this;
    }

    JsonOut field(final String name, final long value)
    {
        name(name);
        out.append(value);
        return this;
    }

    JsonOut field(final String name, final double value)
    {
        name(name);
        out.append(Double.isFinite(value) ? Double.toString(value) : "null");
        return this;
    }

    JsonOut field(final String name, final boolean value)
    {
        name(name);
        out.append(value);
        return this;
    }

    /** A value that is already JSON text, e.g. a child's own report. */
    JsonOut rawField(final String name, final String json)
    {
        name(name);
        out.append(json == null || json.isBlank() ? "null" : json);
        return this;
    }

    /** An array element that is a string. */
    JsonOut element(final String value)
    {
        value();
        Json.string(out, value);
        return this;
    }

    /** An array element that is a number. */
    JsonOut element(final long value)
    {
        value();
        out.append(value);
        return this;
    }

    private JsonOut name(final String name)
    {
        value();
        Json.string(out, name).append(':');
        return this;
    }

    private JsonOut beginObjectNoComma()
    {
        out.append('{');
        first[++depth] = true;
        return this;
    }

    private void value()
    {
        if (!first[depth])
        {
            out.append(',');
        }
        first[depth] = false;
    }

    public String toString()
    {
        return out.toString();
    }
}
