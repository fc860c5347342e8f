package skiff.cli;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The words and units of 'skiff images', as Docker prints them. */
class ImagesFormatTest {
    @Test
    void sizesUseDecimalUnitsWithFourSignificantDigits() {
        assertEquals("0B", ImagesCommand.humanSize(0));
        assertEquals("512B", ImagesCommand.humanSize(512));
        assertEquals("1kB", ImagesCommand.humanSize(1000));
        assertEquals("7.806MB", ImagesCommand.humanSize(7_805_844));
        assertEquals("1.235GB", ImagesCommand.humanSize(1_234_567_890));
        assertEquals("100MB", ImagesCommand.humanSize(99_999_999));
    }

    @Test
    void createdIsRelative() {
        Instant now = Instant.parse("2024-06-10T12:00:00Z");
        assertEquals("Less than a second ago", ImagesCommand.since("2024-06-10T12:00:00Z", now));
        assertEquals("45 seconds ago", ImagesCommand.since("2024-06-10T11:59:15Z", now));
        assertEquals("About a minute ago", ImagesCommand.since("2024-06-10T11:58:30Z", now));
        assertEquals("About an hour ago", ImagesCommand.since("2024-06-10T11:00:00Z", now));
        assertEquals("5 hours ago", ImagesCommand.since("2024-06-10T07:00:00+00:00", now));
        assertEquals("3 days ago", ImagesCommand.since("2024-06-07T12:00:00Z", now));
        assertEquals("3 weeks ago", ImagesCommand.since("2024-05-20T12:00:00Z", now));
        assertEquals("4 months ago", ImagesCommand.since("2024-02-01T12:00:00.123456789Z", now));
        assertEquals("54 years ago", ImagesCommand.since("1970-01-01T00:00:00Z", now));
        assertEquals("N/A", ImagesCommand.since(null, now));
        assertEquals("N/A", ImagesCommand.since("yesterday", now));
        assertEquals("About a minute", ImagesCommand.humanDuration(Duration.ofSeconds(119)));
    }
}
