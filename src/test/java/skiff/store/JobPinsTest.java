package skiff.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.MediaTypes;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A tag resolved once per batch job. */
class JobPinsTest {
    @TempDir
    Path tmp;

    Descriptor blob(Store s, String content) throws Exception {
        Digest d = s.putBlob(content.getBytes());
        return Descriptor.of(MediaTypes.OCI_MANIFEST, d, content.length());
    }

    @Test
    void theJobIsNamedByClusterAndJobIdOnlyInsideAJob() {
        assertEquals(Optional.of("slurm-skiffci-42"), JobPins.job(Map.of("SLURM_JOB_ID", "42", "SLURM_CLUSTER_NAME", "skiffci")));
        assertEquals(Optional.of("slurm-cluster-42"), JobPins.job(Map.of("SLURM_JOB_ID", "42", "SLURM_CLUSTER_NAME", "../x")));
        assertEquals(Optional.empty(), JobPins.job(Map.of()));
        assertEquals(Optional.empty(), JobPins.job(Map.of("SLURM_JOB_ID", "../../etc")));
    }

    @Test
    void theFirstResolutionOfAJobWinsAndOtherJobsResolveAfresh() throws Exception {
        Store s = Store.open(tmp.resolve("st"));
        Descriptor v1 = blob(s, "one"), v2 = blob(s, "two");
        assertEquals(v1, JobPins.resolve(s, "slurm-c-1", "r/app:x", () -> Optional.of(v1)).orElseThrow());
        assertEquals(v1, JobPins.resolve(s, "slurm-c-1", "r/app:x", () -> Optional.of(v2)).orElseThrow());
        assertEquals(v1, JobPins.pinIfAbsent(s, "slurm-c-1", "r/app:x", v2));
        assertEquals(v2, JobPins.resolve(s, "slurm-c-2", "r/app:x", () -> Optional.of(v2)).orElseThrow());
        assertEquals(Optional.empty(), JobPins.resolve(s, "slurm-c-1", "r/other:x", Optional::empty));
        assertEquals(Optional.empty(), JobPins.get(s, "slurm-c-1", "r/other:x"));
    }

    @Test
    void aPinnedImageGoneFromTheStoreIsAClearError() throws Exception {
        Store s = Store.open(tmp.resolve("st"));
        Descriptor v1 = blob(s, "one");
        JobPins.pinIfAbsent(s, "slurm-c-3", "r/app:x", v1);
        Files.delete(s.blobPath(v1.digest()));
        var e = assertThrows(skiff.util.SkiffException.class,
                () -> JobPins.resolve(s, "slurm-c-3", "r/app:x", () -> Optional.of(v1)));
        assertTrue(e.getMessage().contains("skiff pull r/app@" + v1.digest()), e.getMessage());
    }

    @Test
    void pinsAreGcRootsUntilTheyExpire() throws Exception {
        Store s = Store.open(tmp.resolve("st"));
        Descriptor v1 = blob(s, "one"), v2 = blob(s, "two");
        JobPins.pinIfAbsent(s, "slurm-c-4", "r/app:x", v1);
        JobPins.pinIfAbsent(s, "slurm-c-5", "r/app:x", v2);
        Files.setLastModifiedTime(s.storage().resolve("jobs/slurm-c-5"),
                FileTime.from(Instant.now().minus(JobPins.MAX_AGE).minusSeconds(60)));
        assertEquals(List.of(v1), JobPins.roots(s));
        assertTrue(Files.notExists(s.storage().resolve("jobs/slurm-c-5")));
    }
}
