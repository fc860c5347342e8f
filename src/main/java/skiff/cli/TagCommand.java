package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.reference.Reference;
import skiff.store.Store;
import skiff.store.StoredImage;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.util.concurrent.Callable;

@Command(name = "tag", mixinStandardHelpOptions = true,
        description = "Give the image SOURCE the additional name TARGET (replacing what TARGET named before).")
public final class TagCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "Image name or id.")
    String source;

    @Parameters(index = "1", paramLabel = "TARGET", description = "New name, e.g. myimage:1.0 or host:5000/team/app:v2.")
    String target;

    @Override
    public Integer call() throws Exception {
        Reference dst = Reference.parse(target);
        if (dst.digest() != null)
            throw new SkiffException(ExitCode.USAGE, "cannot tag with a digest ('" + target + "'): a digest names content, give a tag such as NAME:TAG");
        Store store = main.store();
        StoredImage src = StoredImage.require(store, source).getFirst();
        store.tag(dst.toString(), src.entry());
        return 0;
    }
}
