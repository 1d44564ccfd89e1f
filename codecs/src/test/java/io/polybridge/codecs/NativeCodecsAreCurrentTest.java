package io.polybridge.codecs;

import org.junit.jupiter.api.Test;

import java.io.IOException;

import static io.polybridge.codecs.CommittedCodecs.assertSameAsFreshGeneration;
import static io.polybridge.codecs.CommittedCodecs.freshGeneration;
import static io.polybridge.codecs.CommittedCodecs.repositoryRoot;

/**
 * The transport's committed Go and Rust codecs equal a fresh generation from schema/polybridge.xml
 * ({@link CommittedCodecs}). Fix a failure with {@code codecs/regenerate.sh}.
 */
class NativeCodecsAreCurrentTest
{
    @Test
    void committedGoCodecsEqualAFreshGeneration() throws IOException
    {
        assertSameAsFreshGeneration(
            freshGeneration().resolve("go/polybridge"), repositoryRoot().resolve("codecs/go/polybridge"));
    }

    @Test
    void committedRustCodecsEqualAFreshGeneration() throws IOException
    {
        assertSameAsFreshGeneration(
            freshGeneration().resolve("rust/polybridge"), repositoryRoot().resolve("codecs/rust"));
    }
}
