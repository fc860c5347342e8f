package skiff.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The MPI test images of ci/mpi-images.sh, built once per test run from this host's Debian packages (about half a
 * minute; kept in target/mpi-images and rebuilt only when the sources or packages change). Each image holds
 * {@code /usr/local/bin/mpi_hello} and {@code /usr/local/bin/mpi_pingpong} (src/test/c/mpi); the same programs
 * built for the host are at {@link #hostBinary}.
 */
public final class MpiImages {
    private MpiImages() {}

    /** An MPI flavour, its tag in the layout, and the srun --mpi it speaks (Debian builds each for one only). */
    public enum Mpi {
        /** OpenMPI 4.1.4: PMIx only under srun. */
        OPENMPI("openmpi", "pmix"),
        /** MPICH 4.0.2 (ch4:ucx): PMI-1/PMI-2 only. */
        MPICH("mpich", "pmi2");

        public final String tag;
        public final String srunMpi;

        Mpi(String tag, String srunMpi) {
            this.tag = tag;
            this.srunMpi = srunMpi;
        }

        /** {@code --mpi=pmix} or {@code --mpi=pmi2}. */
        public String srunOption() {
            return "--mpi=" + srunMpi;
        }
    }

    private static Path dir;

    /** Builds the images if needed and returns the directory holding {@code layout/} and {@code host/}. */
    public static synchronized Path dir() {
        if (dir != null) return dir;
        Path home = Path.of(System.getProperty("skiff.home", ".")).toAbsolutePath();
        Path d = home.resolve("target/mpi-images");
        Cmd.of("bash", home.resolve("ci/mpi-images.sh").toString(), d.toString()).timeout(Duration.ofMinutes(5)).run().ok();
        dir = d;
        return d;
    }

    /** The OCI layout with tags {@code openmpi} and {@code mpich}. */
    public static Path layout() {
        return dir().resolve("layout");
    }

    /** skopeo's reference to the image: {@code oci:LAYOUT:TAG}. */
    public static String skopeoRef(Mpi mpi) {
        return "oci:" + layout() + ":" + mpi.tag;
    }

    /** The test program {@code mpi_hello} or {@code mpi_pingpong} built for the host with this MPI's mpicc. */
    public static Path hostBinary(Mpi mpi, String program) {
        Path p = dir().resolve("host").resolve(mpi.tag).resolve(program);
        if (!Files.isExecutable(p)) throw new AssertionError("no host build of " + program + " at " + p);
        return p;
    }

    /**
     * Copies the image into skiff's store at {@code storage} as {@code refName} (a full reference, e.g.
     * {@code docker.io/library/openmpi:latest}); the caller hands the store to the test user afterwards.
     */
    public static void copyInto(Path storage, Mpi mpi, String refName) {
        skiff.store.Store.open(storage);
        Cmd.of("skopeo", "copy", "--quiet", skopeoRef(mpi), "oci:" + storage.resolve("oci") + ":" + refName).run().ok();
    }

    /** Pushes the image to a registry fixture as {@code host:port/repo:tag} (plain HTTP). */
    public static void push(Mpi mpi, String registryRef) {
        Cmd.of("skopeo", "copy", "--quiet", "--dest-tls-verify=false", skopeoRef(mpi), "docker://" + registryRef).run().ok();
    }
}
