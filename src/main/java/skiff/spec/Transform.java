package skiff.spec;

import java.util.function.UnaryOperator;

/** One policy step applied before launch (site mounts, GPUs, CDI, MPI, hooks...): a pure Spec -> Spec. */
@FunctionalInterface
public interface Transform extends UnaryOperator<Spec> {}
