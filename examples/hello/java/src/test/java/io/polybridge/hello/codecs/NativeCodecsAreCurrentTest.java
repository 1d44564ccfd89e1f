package io.polybridge.hello.codecs;

import org.junit.jupiter.api.Test;

import java.io.IOException;

import static io.polybridge.codecs.CommittedCodecs.assertSameAsFreshGeneration;
import static io.polybridge.codecs.CommittedCodecs.freshGeneration;
import static io.polybridge.codecs.CommittedCodecs.repositoryRoot;

/**
 * The committed Go and Rust codecs of examples/hello/schema/hello.xml equal a fresh generation
 * (io.polybridge.codecs.CommittedCodecs, from the codecs module's test-jar). Fix a failure with
 * {@code codecs/regenerate.sh}.
 */
class NativeCodecsAreCurrentTest
{
    @Test
    void committedGoCodecsEqualAFreshGeneration() throws IOException
    {
        assertSameAsFreshGeneration(
            freshGeneration().resolve("go/hello"), repositoryRoot().resolve("examples/hello/go/hello"));
    }

    @Test
    void committedRustCodecsEqualAFreshGeneration() throws IOException
    {
        assertSameAsFreshGeneration(
            freshGeneration().resolve("rust/hello"), repositoryRoot().resolve("examples/hello/rust/codecs"));
    }
}
