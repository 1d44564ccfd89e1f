package io.polybridge.webscan.codecs;

import org.junit.jupiter.api.Test;

import java.io.IOException;

import static io.polybridge.codecs.CommittedCodecs.assertSameAsFreshGeneration;
import static io.polybridge.codecs.CommittedCodecs.freshGeneration;
import static io.polybridge.codecs.CommittedCodecs.repositoryRoot;

/**
 * The committed Go and Rust codecs of examples/web-scan/schema/web-scan.xml equal a fresh generation
 * (io.polybridge.codecs.CommittedCodecs, from the codecs module's test-jar). Fix a failure with
 * {@code codecs/regenerate.sh}.
 */
class NativeCodecsAreCurrentTest
{
    @Test
    void committedGoCodecsEqualAFreshGeneration() throws IOException
    {
        assertSameAsFreshGeneration(
            freshGeneration().resolve("go/webscan"), repositoryRoot().resolve("examples/web-scan/go/webscan"));
    }

    @Test
    void committedRustCodecsEqualAFreshGeneration() throws IOException
    {
        assertSameAsFreshGeneration(
            freshGeneration().resolve("rust/webscan"), repositoryRoot().resolve("examples/web-scan/rust/codecs"));
    }
}
