package skiff.squashfs;

/** SquashFS 4.0 on-disk constants (squashfs-tools-ng doc/format.adoc, Linux fs/squashfs/squashfs_fs.h). */
final class Format {
    private Format() {}

    static final int MAGIC = 0x73717368;
    static final int SUPERBLOCK_SIZE = 96;
    static final int BLOCK_SIZE = 128 * 1024;
    static final int BLOCK_LOG = 17;
    static final int METADATA_SIZE = 8192;
    /** Bit 15 of a metadata block header: stored uncompressed. */
    static final int META_UNCOMPRESSED = 0x8000;
    /** Bit 24 of a data/fragment block size: stored uncompressed. */
    static final int DATA_UNCOMPRESSED = 1 << 24;
    static final int NO_FRAGMENT = 0xFFFFFFFF;
    static final int NO_XATTR = 0xFFFFFFFF;
    static final long INVALID_BLOCK = -1L;
    /** Linux SQUASHFS_NAME_LEN. */
    static final int MAX_NAME = 256;
    /** Entries per directory header (the count field is stored minus one, at most 255). */
    static final int DIR_RUN_MAX = 256;

    // Superblock flags.
    static final int FLAG_UNCOMPRESSED_INODES = 0x0001;
    static final int FLAG_UNCOMPRESSED_DATA = 0x0002;
    static final int FLAG_UNCOMPRESSED_FRAGMENTS = 0x0008;
    static final int FLAG_DUPLICATES = 0x0040;
    static final int FLAG_EXPORTABLE = 0x0080;
    static final int FLAG_UNCOMPRESSED_XATTRS = 0x0100;
    static final int FLAG_NO_XATTRS = 0x0200;
    static final int FLAG_COMPRESSOR_OPTIONS = 0x0400;
    static final int FLAG_UNCOMPRESSED_IDS = 0x0800;

    // Inode types; extended = basic + 7.
    static final int DIR = 1, FILE = 2, SYMLINK = 3, BLKDEV = 4, CHRDEV = 5, FIFO = 6, SOCKET = 7;
    static final int EXT = 7;

    // Compressor ids.
    static final int GZIP = 1, ZSTD = 6;

    // Xattr key prefixes.
    static final int XATTR_USER = 0, XATTR_TRUSTED = 1, XATTR_SECURITY = 2;
    static final int XATTR_VALUE_OOL = 0x0100;
}
