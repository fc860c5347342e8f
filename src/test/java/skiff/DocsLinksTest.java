package skiff;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every relative link in README.md and docs/ leads somewhere: the file exists, and a {@code #fragment} into a
 * Markdown file names one of its headings (GitHub's anchor rules). The reference moved out of the README into
 * docs/; a link left pointing at the old place is what a reader would hit first.
 */
class DocsLinksTest {
    /** [text](target) — targets never contain spaces or ')' in these documents. */
    private static final Pattern LINK = Pattern.compile("\\[[^\\]]*\\]\\(([^)\\s]+)\\)");
    private static final Pattern HEADING = Pattern.compile("^#{1,6}\\s+(.*?)\\s*#*\\s*$", Pattern.MULTILINE);

    static List<Path> documents(Path repo) throws IOException {
        List<Path> docs = new ArrayList<>(List.of(repo.resolve("README.md")));
        try (Stream<Path> s = Files.walk(repo.resolve("docs"))) {
            s.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        return docs;
    }

    /** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
    static String anchor(String heading) {
        String h = heading.replaceAll("\\[([^\\]]*)\\]\\([^)]*\\)", "$1").toLowerCase(Locale.ROOT);
        StringBuilder sb = new StringBuilder();
        h.codePoints().forEach(c -> {
            if (Character.isLetterOrDigit(c) || c == '-' || c == '_') sb.appendCodePoint(c);
            else if (c == ' ') sb.append('-');
        });
        return sb.toString();
    }

    static Set<String> anchors(Path md) throws IOException {
        String text = Files.readString(md).replaceAll("(?s)```.*?```", "");
        Set<String> out = new HashSet<>();
        Matcher m = HEADING.matcher(text);
        while (m.find()) {
            String a = anchor(m.group(1));
            String unique = a;
            for (int i = 1; !out.add(unique); i++) unique = a + "-" + i;
        }
        return out;
    }

    static List<String> brokenLinks(Path repo) throws IOException {
        List<String> broken = new ArrayList<>();
        for (Path doc : documents(repo)) {
            String text = Files.readString(doc).replaceAll("(?s)```.*?```", "");
            Matcher m = LINK.matcher(text);
            while (m.find()) {
                String target = m.group(1);
                if (target.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:.*")) continue; // http:, https:, mailto:
                int hash = target.indexOf('#');
                String file = hash < 0 ? target : target.substring(0, hash);
                String fragment = hash < 0 ? null : target.substring(hash + 1);
                Path dest = file.isEmpty() ? doc : doc.getParent().resolve(file).normalize();
                String where = repo.relativize(doc) + ": (" + target + ")";
                if (!dest.startsWith(repo) || !Files.exists(dest)) {
                    broken.add(where + " — no such file");
                } else if (fragment != null && dest.toString().endsWith(".md") && !anchors(dest).contains(fragment)) {
                    broken.add(where + " — no heading with that anchor");
                }
            }
        }
        return broken;
    }

    @Test
    void everyRelativeLinkResolves() throws IOException {
        Path repo = Path.of("").toAbsolutePath();
        assertTrue(Files.isRegularFile(repo.resolve("README.md")), "run from the repository root");
        assertEquals(List.of(), brokenLinks(repo));
    }

    @Test
    void aBrokenLinkIsFound(@org.junit.jupiter.api.io.TempDir Path repo) throws IOException {
        Files.createDirectories(repo.resolve("docs"));
        Files.writeString(repo.resolve("docs/guide.md"), "# Guide\n\n## Exit codes\n\n[back](../README.md)\n");
        Files.writeString(repo.resolve("README.md"), "[ok](docs/guide.md#exit-codes) [gone](docs/old.md) "
                + "[bad](docs/guide.md#exit-status) [web](https://example.org/x)\n```\n[in code](nowhere.md)\n```\n");
        assertEquals(List.of("README.md: (docs/old.md) — no such file",
                "README.md: (docs/guide.md#exit-status) — no heading with that anchor"), brokenLinks(repo));
    }

    @Test
    void anchorsFollowGithub() {
        assertEquals("persistent-containers-exportimport-and-skiff-doctor",
                anchor("Persistent containers, export/import, and `skiff doctor`"));
        assertEquals("gpus---gpus-allnmnone", anchor("GPUs (`--gpus all|N,M|none`)"));
    }
}
