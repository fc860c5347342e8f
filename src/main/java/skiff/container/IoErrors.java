package skiff.container;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/** Turns a file-system failure into the one-line user error skiff prints (exit 5). */
public final class IoErrors {
    private IoErrors() {}

    public static SkiffException storage(String what, IOException e) {
        String why;
        if (e instanceof AccessDeniedException a) why = "permission denied on " + a.getFile();
        else if (e instanceof NoSuchFileException n) why = "no such file or directory: " + n.getFile();
        else if (e instanceof FileSystemException f) why = f.getFile() + ": " + (f.getReason() != null ? f.getReason() : f.getClass().getSimpleName());
        else why = e.getMessage() != null ? e.getMessage() : e.toString();
        return new SkiffException(ExitCode.STORAGE, what + ": " + why + " (check the path, its permissions and free space)", e);
    }
}
