package skiff.gateway;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageManifest;
import skiff.image.Platform;
import skiff.reference.Reference;
import skiff.registry.Credentials;
import skiff.registry.RegistryClient;
import skiff.registry.RegistryConfig;
import skiff.layer.Progress;
import skiff.rootfs.ConversionWatcher;
import skiff.rootfs.Rootfs;
import skiff.store.Puller;
import skiff.store.Store;
import skiff.util.Dirs;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gateway's work: pull requests, their lifecycle, joining duplicates, digest sharing, publishing, expiry and
 * garbage collection. Pulls and conversions use skiff's own registry client, store and SquashFS writer, in a
 * bounded pool of worker threads; the database holds the state, so a restart resumes what was interrupted.
 */
final class GatewayService implements AutoCloseable {
    private final GatewayConfig cfg;
    private final GatewayDb db;
    private final Publisher pub;
    private final Map<String, String> env;
    private final Store store;
    private final ExecutorService workers;
    private final ScheduledExecutorService timers;
    /** reference|platform → the id of the request working on it: a second request for the same joins it. */
    private final ConcurrentHashMap<String, String> inflight = new ConcurrentHashMap<>();
    /** Progress of running requests, by id (the database gets it at each state change). */
    private final ConcurrentHashMap<String, Live> live = new ConcurrentHashMap<>();
    /** One conversion per digest at a time: two tags of one image share one file. */
    private final ConcurrentHashMap<String, Object> digestLocks = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Long> lastUse = new ConcurrentHashMap<>();
    /** This instance, among those sharing the database (a new id each start). */
    final String instance = UUID.randomUUID().toString().substring(0, 8);
    final Metrics metrics = new Metrics();

    /** Counters for /metrics. */
    static final class Metrics {
        final AtomicLong requests = new AtomicLong(), joined = new AtomicLong(), pulls = new AtomicLong(),
                conversions = new AtomicLong(), ready = new AtomicLong(), failed = new AtomicLong(), lookups = new AtomicLong(),
                bytesPulled = new AtomicLong();
    }

    /** A running request's progress and log. */
    static final class Live {
        volatile Records.PullRequest row;
        final AtomicLong bytesTotal = new AtomicLong();
        /** Conversion progress: entries written and planned (0 until the layers are read). */
        final AtomicLong entriesDone = new AtomicLong(), entriesTotal = new AtomicLong();
        final ConcurrentHashMap<Digest, Long> blobBytes = new ConcurrentHashMap<>();

        Live(Records.PullRequest row) {
            this.row = row;
        }

        long bytesDone() {
            long s = 0;
            for (long v : blobBytes.values()) s += v;
            return s;
        }
    }

    /** Users and groups a private image is limited to (both empty: public). */
    record Acl(List<String> users, List<String> groups) {
        static final Acl PUBLIC = new Acl(List.of(), List.of());
    }

    GatewayService(GatewayConfig cfg, GatewayDb db, Map<String, String> env) throws IOException {
        this.cfg = cfg;
        this.db = db;
        this.env = env;
        this.pub = new Publisher(cfg.images());
        Files.createDirectories(cfg.work());
        this.store = Store.open(cfg.work().resolve("store"));
        this.workers = Executors.newFixedThreadPool(cfg.workers(), Thread.ofPlatform().name("gateway-worker-", 0).daemon().factory());
        this.timers = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("gateway-timer").daemon().factory());
        // The converter reports entries through one watcher per process: route each conversion to its request.
        Rootfs.watchWith(new ConversionWatcher() {
            @Override
            public Progress started(Digest manifest, Rootfs.Format format, long layerBytes) {
                Live l = converting.get(manifest);
                if (l == null) return Progress.NONE;
                return new Progress() {
                    @Override
                    public void planned(long entries, long contentBytes) {
                        l.entriesTotal.set(entries);
                    }

                    @Override
                    public void entry() {
                        l.entriesDone.incrementAndGet();
                    }
                };
            }
        });
    }

    /** The request converting each digest (one at a time per digest: {@link #digestLocks}). */
    private final ConcurrentHashMap<Digest, Live> converting = new ConcurrentHashMap<>();
    /** Set at shutdown: work interrupted then stays in progress in the database and resumes at the next start. */
    private volatile boolean closing;

    /** Entries written and planned by a running conversion, or null. */
    long[] entries(String id) {
        Live l = live.get(id);
        return l == null || l.entriesTotal.get() == 0 ? null : new long[] {l.entriesDone.get(), l.entriesTotal.get()};
    }

    Publisher publisher() {
        return pub;
    }

    GatewayConfig config() {
        return cfg;
    }

    GatewayDb db() {
        return db;
    }

    /**
     * At start: no conversion runs yet, so every temporary is a leftover of a killed gateway (removed: never
     * published), and every request the database still shows as in progress was interrupted: it is queued again
     * (the store keeps the blobs already downloaded, so it resumes rather than restarts).
     */
    void recover() throws IOException {
        long now = System.currentTimeMillis();
        db.heartbeat(instance, host(), now);
        // At start, an instance of this host still beating is this gateway's previous run (killed, restarted at
        // once): one instance per host. SQLite has one instance by construction.
        Set<String> alive = db.sqlite ? new HashSet<>() : db.liveInstances(now - cfg.instanceTimeout().toMillis(), host());
        alive.remove(instance);
        // Temporaries of instances still alive are their conversions in progress; the others' are leftovers.
        pub.collect(keepSet(), p -> !alive.contains(Publisher.instanceOf(p)));
        resume(db.claimOrphans(instance, alive), "gateway restarted while the request was ");
        reindex();
        timers.scheduleWithFixedDelay(this::flushLastUse, 10, 10, TimeUnit.SECONDS);
        long beat = Math.max(1, cfg.instanceTimeout().toMillis() / 3);
        timers.scheduleWithFixedDelay(() -> {
            try {
                long t = System.currentTimeMillis();
                db.heartbeat(instance, host(), t);
                Set<String> others = db.liveInstances(t - cfg.instanceTimeout().toMillis(), null);
                others.add(instance);
                resume(db.claimOrphans(instance, others), "taken over from a gateway instance that stopped, while the request was ");
            } catch (RuntimeException ignored) {
                // database away: the next beat retries
            }
        }, beat, beat, TimeUnit.MILLISECONDS);
        timers.scheduleWithFixedDelay(() -> {
            try {
                expire(cfg.expireAfter().toMillis());
                gc(3_600_000);
                // Finished requests are history: kept 30 days for their logs, then forgotten.
                db.forgetRequests(System.currentTimeMillis() - TimeUnit.DAYS.toMillis(30));
            } catch (RuntimeException | IOException ignored) {
                // the next round retries; an admin sees errors through the API calls
            }
        }, 1, 60, TimeUnit.MINUTES);
    }

    private static String host() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** Queues again requests claimed from a stopped instance (or this one's previous run). */
    private void resume(List<Records.PullRequest> claimed, String why) {
        for (Records.PullRequest r : claimed) {
            Records.PullRequest again = with(r, State.PENDING, r.digest(), null, null, why + r.state() + ": queued again");
            db.update(again);
            Reference ref = Reference.parse(r.reference());
            String key = key(ref.toString(), r.platform());
            if (inflight.putIfAbsent(key, r.id()) != null) {
                db.update(with(again, State.FAILED, null, "superseded", "a request for the same image was resumed instead",
                        "gateway restart: superseded by another request for the same image"));
                continue;
            }
            Live l = new Live(again);
            live.put(r.id(), l);
            List<List<String>> a = db.acl(r.id());
            Acl acl = new Acl(a.get(0), a.get(1));
            workers.submit(() -> work(l, ref, Platform.parse(r.platform()), true, acl, key, new Caller(r.owner(), -1, -1, false)));
        }
    }

    private static String key(String name, String platform) {
        return name + "|" + platform;
    }

    /** Asks for REF on PLATFORM (null: the gateway host's); joins a running request for the same. */
    Records.PullRequest request(String reference, String platform, Caller caller, Acl acl) throws IOException {
        metrics.requests.incrementAndGet();
        Reference ref = parseReference(reference);
        Platform p;
        try {
            p = platform == null || platform.isBlank() ? Platform.host() : Platform.parse(platform);
        } catch (RuntimeException e) {
            throw ApiException.badRequest("bad_platform", "platform '" + platform + "' is not OS/ARCH[/VARIANT], e.g. linux/amd64");
        }
        boolean explicit = platform != null && !platform.isBlank();
        checkFreeSpace();
        String name = ref.toString(), plat = p.toString();
        String key = key(name, plat);
        synchronized (inflight) {
            String running = inflight.get(key);
            if (running != null) {
                metrics.joined.incrementAndGet();
                return status(running).orElseThrow();
            }
            long now = System.currentTimeMillis();
            Optional<Records.Name> n = db.name(name, plat);
            if (n.isPresent() && (ref.digest() != null || now - n.get().resolvedMs() < cfg.tagMaxAge().toMillis())) {
                Optional<Records.Image> img = db.image(n.get().digest());
                if (img.isPresent() && img.get().status() == State.READY && Files.exists(pub.sqfs(Digest.parse(img.get().digest())))) {
                    if (!visible(img.get(), caller))
                        throw ApiException.forbidden(name + " is published privately by another user: ask its owner (" + img.get().owner() + ") to add you");
                    checkAccess(img.get(), acl, name);
                    Records.PullRequest done = new Records.PullRequest(newId(), name, plat, caller.user(), State.READY,
                            img.get().digest(), null, null, now, now, 0, 0,
                            line(now, "already published as " + img.get().digest() + " (resolved " + Instant.ofEpochMilli(n.get().resolvedMs()) + ")"));
                    db.insert(done, instance);
                    used(img.get().digest());
                    metrics.ready.incrementAndGet();
                    return done;
                }
            }
            long mine = live.values().stream().filter(x -> x.row.owner().equals(caller.user())).count();
            if (mine >= cfg.maxActivePerUser())
                throw new ApiException(429, "too_many_requests", caller.user() + " has " + mine + " pulls in progress, this"
                        + " gateway's limit per user (max_active_per_user): wait for one to end");
            // Another instance on the same database may be working on it: join that request.
            Optional<Records.PullRequest> elsewhere = db.activeFor(name, plat);
            if (elsewhere.isPresent()) {
                metrics.joined.incrementAndGet();
                return elsewhere.get();
            }
            Records.PullRequest r = new Records.PullRequest(newId(), name, plat, caller.user(), State.PENDING, null, null,
                    null, now, now, 0, 0, line(now, "requested by " + caller.user()));
            if (!db.insert(r, instance)) {
                metrics.joined.incrementAndGet();
                Optional<Records.PullRequest> raced = db.activeFor(name, plat);
                if (raced.isPresent()) return raced.get();
                throw new ApiException(503, "busy", "another gateway instance took this request and finished it at once; ask again");
            }
            if (!acl.users().isEmpty() || !acl.groups().isEmpty()) db.saveAcl(r.id(), acl.users(), acl.groups());
            inflight.put(key, r.id());
            Live l = new Live(r);
            live.put(r.id(), l);
            workers.submit(() -> work(l, ref, p, explicit, acl, key, caller));
            return r;
        }
    }

    static Reference parseReference(String reference) {
        if (reference == null || reference.isBlank())
            throw ApiException.badRequest("bad_reference", "the request names no image reference");
        if (reference.length() > 512)
            throw ApiException.badRequest("bad_reference", "the image reference is longer than 512 characters");
        for (char ch : reference.toCharArray())
            if (ch < 0x21 || ch > 0x7e)
                throw ApiException.badRequest("bad_reference", "the image reference contains a space, a control or a non-ASCII character");
        try {
            return Reference.parse(reference);
        } catch (SkiffException e) {
            throw ApiException.badRequest("bad_reference", e.getMessage());
        }
    }

    private void checkFreeSpace() throws IOException {
        long free = Files.getFileStore(pub.dir()).getUsableSpace();
        if (free < cfg.minFreeBytes())
            throw new ApiException(507, "insufficient_storage", "the shared directory " + pub.dir() + " has only " + free
                    + " bytes free (the gateway keeps at least " + cfg.minFreeBytes() + "); ask the administrators to free space");
    }

    /** A request with its live progress. */
    Optional<Records.PullRequest> status(String id) {
        Live l = live.get(id);
        if (l != null) {
            Records.PullRequest r = l.row;
            return Optional.of(new Records.PullRequest(r.id(), r.reference(), r.platform(), r.owner(), r.state(), r.digest(),
                    r.reasonCode(), r.reason(), r.createdMs(), r.updatedMs(), l.bytesDone(), l.bytesTotal.get(), r.log()));
        }
        return db.request(id);
    }

    /** The work queue with live progress. */
    List<Records.PullRequest> queue() {
        List<Records.PullRequest> out = new ArrayList<>();
        for (Records.PullRequest r : db.active()) out.add(status(r.id()).orElse(r));
        return out;
    }

    private void work(Live l, Reference ref, Platform platform, boolean explicit, Acl acl, String key, Caller caller) {
        Path tmp = null;
        try {
            advance(l, State.PULLING, null, "pulling " + ref + " for " + platform);
            metrics.pulls.incrementAndGet();
            RegistryConfig rc = RegistryConfig.load(Dirs.userConfig(env).resolve("config.toml"));
            Puller.Result res;
            try (RegistryClient client = RegistryClient.forPull(ref.domain(), rc, Credentials.fromEnv(env))) {
                res = new Puller(store, client, listener(l), 4).pull(ref, platform, explicit);
            }
            metrics.bytesPulled.addAndGet(res.downloadedBytes());
            Digest md = res.manifest().digest();
            log(l, "resolved to " + md + " (registry digest " + res.repoDigest() + "), " + res.downloaded() + " blobs downloaded");
            synchronized (digestLocks.computeIfAbsent(md.toString(), k -> new Object())) {
                Optional<Records.Image> have = db.image(md.toString());
                if (have.isPresent() && have.get().status() == State.READY && Files.exists(pub.sqfs(md))) {
                    if (!visible(have.get(), caller))
                        throw ApiException.forbidden(ref + " is published privately by another user: ask its owner ("
                                + have.get().owner() + ") to add you");
                    checkAccess(have.get(), acl, ref.toString());
                    log(l, "already published by an earlier request: sharing " + pub.sqfs(md).getFileName());
                } else {
                    ImageManifest m = store.manifest(md);
                    long size = m.layers().stream().mapToLong(Descriptor::size).sum();
                    advance(l, State.CONVERTING, md.toString(), "converting to SquashFS");
                    metrics.conversions.incrementAndGet();
                    tmp = pub.temporary(md, instance);
                    converting.put(md, l);
                    try {
                        cfg.converter().convert(store, md, tmp, m2 -> log(l, m2));
                    } finally {
                        converting.remove(md);
                    }
                    log(l, "converted: " + l.entriesDone.get() + " entries, " + Files.size(tmp) + " bytes");
                    advance(l, State.PUBLISHING, md.toString(), "publishing " + pub.sqfs(md).getFileName());
                    long now = System.currentTimeMillis();
                    Records.Image img = new Records.Image(md.toString(), platform.toString(), Files.size(tmp), l.row.owner(), now,
                            now, State.READY, acl.users(), acl.groups());
                    Map<String, Object> meta = new LinkedHashMap<>();
                    meta.put("digest", md.toString());
                    meta.put("platform", platform.toString());
                    meta.put("size", img.sizeBytes());
                    meta.put("layers_size", size);
                    meta.put("owner", img.owner());
                    meta.put("created", Instant.ofEpochMilli(now).toString());
                    meta.put("source", ref.toString());
                    meta.put("registry_digest", res.repoDigest().toString());
                    Publisher.Access access = img.allowedUsers().isEmpty() && img.allowedGroups().isEmpty()
                            ? Publisher.Access.PUBLIC : new Publisher.Restricted(acl.users(), acl.groups());
                    pub.publish(md, tmp, store.readMetadataBlob(m.config().digest()), Json.bytes(meta), access);
                    tmp = null;
                    db.upsert(img);
                }
            }
            long now = System.currentTimeMillis();
            db.upsert(new Records.Name(ref.toString(), platform.toString(), md.toString(), res.repoDigest().toString(), now));
            reindex();
            used(md.toString());
            advance(l, State.READY, md.toString(), "READY: " + md);
            metrics.ready.incrementAndGet();
        } catch (Throwable t) {
            if (closing) return; // stopped by SIGTERM: left in progress in the database, resumed at the next start
            metrics.failed.incrementAndGet();
            Failure f = Failure.of(t, cfg);
            try {
                Records.PullRequest r = l.row;
                l.row = with(r, State.FAILED, r.digest(), f.code(), f.message(), "FAILED (" + f.code() + "): " + f.message());
                db.update(withProgress(l));
            } catch (RuntimeException e) {
                // the database is away: the request stays in progress there and is resumed at the next start
            }
        } finally {
            if (tmp != null) try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // GC removes stale temporaries
            }
            inflight.remove(key, l.row.id());
            live.remove(l.row.id());
        }
    }

    /**
     * One file per digest means one set of permissions: a request asking for other limits than those the published
     * file has is a conflict (409), said so, rather than silently getting a file readable by more or fewer people.
     */
    private static void checkAccess(Records.Image i, Acl acl, String name) {
        if (acl.users().isEmpty() && acl.groups().isEmpty()) return; // no limits asked: the image as it is
        if (!i.isPrivate())
            throw new ApiException(409, "access_conflict", name + " is already published for everyone (" + i.digest()
                    + "): it cannot be made private by another request");
        if (!new HashSet<>(i.allowedUsers()).containsAll(acl.users()) || !new HashSet<>(i.allowedGroups()).containsAll(acl.groups()))
            throw new ApiException(409, "access_conflict", name + " is already published for users " + i.allowedUsers()
                    + " and groups " + i.allowedGroups() + ": ask its owner (" + i.owner() + ") or an admin to change that");
    }

    /** Why a request failed: a stable code and one line. */
    record Failure(String code, String message) {
        static Failure of(Throwable t, GatewayConfig cfg) {
            for (Throwable c = t; c != null; c = c.getCause()) {
                String m = String.valueOf(c.getMessage());
                if (m.contains("No space left on device") || c instanceof java.nio.file.FileSystemException fe && String.valueOf(fe.getReason()).contains("No space"))
                    return new Failure("insufficient_storage", "the shared directory is full: nothing was published (" + oneLine(t.getMessage()) + ")");
            }
            if (t instanceof ApiException a) return new Failure(a.code(), a.getMessage());
            if (t instanceof SkiffException s) return new Failure(switch (s.exitCode()) {
                case REGISTRY -> "registry_error";
                case IMAGE -> "image_error";
                case STORAGE -> "storage_error";
                case POLICY -> "policy_refused";
                default -> "pull_failed";
            }, oneLine(s.getMessage()));
            return new Failure("internal_error", oneLine(t.toString()));
        }
    }

    static String oneLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private Puller.Listener listener(Live l) {
        return new Puller.Listener() {
            @Override
            public void resolved(String name, Digest manifest, List<Descriptor> blobs) {
                long total = blobs.stream().mapToLong(Descriptor::size).sum();
                l.bytesTotal.set(total);
                if (cfg.maxImageBytes() > 0 && total > cfg.maxImageBytes())
                    throw new ApiException(413, "image_too_large", name + " is " + total + " bytes, over this gateway's limit of "
                            + cfg.maxImageBytes() + " bytes");
            }

            @Override
            public void blobProgress(Descriptor d, long bytes) {
                l.blobBytes.put(d.digest(), bytes);
            }

            @Override
            public void blobDone(Descriptor d, boolean downloaded) {
                l.blobBytes.put(d.digest(), d.size());
            }

            @Override
            public void warning(String message) {
                log(l, "warning: " + message);
            }
        };
    }

    private void advance(Live l, State s, String digest, String message) {
        l.row = with(l.row, s, digest, null, null, message);
        db.update(withProgress(l));
    }

    private void log(Live l, String message) {
        Records.PullRequest r = l.row;
        l.row = new Records.PullRequest(r.id(), r.reference(), r.platform(), r.owner(), r.state(), r.digest(), r.reasonCode(),
                r.reason(), r.createdMs(), System.currentTimeMillis(), r.bytesDone(), r.bytesTotal(), r.log() + line(System.currentTimeMillis(), message));
    }

    private static Records.PullRequest withProgress(Live l) {
        Records.PullRequest r = l.row;
        return new Records.PullRequest(r.id(), r.reference(), r.platform(), r.owner(), r.state(), r.digest(), r.reasonCode(),
                r.reason(), r.createdMs(), r.updatedMs(), l.bytesDone(), l.bytesTotal.get(), r.log());
    }

    private static Records.PullRequest with(Records.PullRequest r, State s, String digest, String code, String reason, String message) {
        long now = System.currentTimeMillis();
        return new Records.PullRequest(r.id(), r.reference(), r.platform(), r.owner(), s, digest, code, reason, r.createdMs(),
                now, r.bytesDone(), r.bytesTotal(), r.log() + line(now, message));
    }

    private static String line(long ms, String message) {
        return Instant.ofEpochMilli(ms) + " " + message.replace('\n', ' ') + "\n";
    }

    private static String newId() {
        return UUID.randomUUID().toString();
    }

    // ---- images

    /** Names of READY images, for the index. */
    List<Records.Name> readyNames() {
        Set<String> ready = new HashSet<>();
        for (Records.Image i : db.images()) if (i.status() == State.READY) ready.add(i.digest());
        List<Records.Name> out = new ArrayList<>();
        for (Records.Name n : db.names()) if (ready.contains(n.digest())) out.add(n);
        return out;
    }

    /** The file-name bases (ALGO-HEX) of every READY image: what GC keeps. */
    private Set<String> keepSet() {
        Set<String> keep = new HashSet<>();
        for (Records.Image i : db.images()) if (i.status() == State.READY) keep.add(Publisher.base(Digest.parse(i.digest())));
        return keep;
    }

    /** A lookup's answer: the image and all its names, or none; kept {@link #LOOKUP_TTL_MS} at most. */
    record Hit(Optional<Records.Image> image, List<Records.Name> names, long atMs, java.util.concurrent.atomic.AtomicReference<byte[]> json,
               java.util.concurrent.atomic.AtomicBoolean refreshing) {
        Hit(Optional<Records.Image> image, List<Records.Name> names, long atMs) {
            this(image, names, atMs, new java.util.concurrent.atomic.AtomicReference<>(), new java.util.concurrent.atomic.AtomicBoolean());
        }
    }

    /**
     * Lookups are the gateway's hot path (every job script may ask): answers are cached briefly, and the cache is
     * emptied whenever this gateway changes what a name means (publish, delete, expire). Another gateway instance
     * sharing a PostgreSQL database is seen within the TTL (plus one query's time).
     */
    static final long LOOKUP_TTL_MS = 1000;
    /** Past this age an entry is never answered, even while another caller refreshes it (the database may be away). */
    static final long LOOKUP_STALE_MAX_MS = 5 * LOOKUP_TTL_MS;
    private final ConcurrentHashMap<String, Hit> lookups = new ConcurrentHashMap<>();

    /** The image NAME (a reference, normalised) resolves to on PLATFORM, if it is published, with its names. */
    Hit lookup(String name, String platform) {
        metrics.lookups.incrementAndGet();
        // Keyed by the name as asked: a hit skips parsing it (the cache holds only names that parsed).
        String key = key(name, platform == null ? "" : platform);
        long now = System.currentTimeMillis();
        Hit h = lookups.get(key);
        if (h == null || now - h.atMs() > LOOKUP_TTL_MS) {
            // One caller refreshes an expired entry; the others answer from it meanwhile. Without this, every
            // connection asked the database at once each second (50 under bench/gateway-lookup.sh, queued on
            // a pool of 8): that wave was the p99.
            boolean refresher = h == null || now - h.atMs() > LOOKUP_STALE_MAX_MS || h.refreshing().compareAndSet(false, true);
            if (refresher) {
                try {
                    Reference ref = parseReference(name);
                    String plat = platform == null || platform.isBlank() ? Platform.host().toString() : platform;
                    Optional<Records.Name> n = db.name(ref.toString(), plat);
                    Optional<Records.Image> i = n.isEmpty() ? Optional.empty() : db.image(n.get().digest());
                    h = new Hit(i, i.isEmpty() ? List.of() : db.namesOf(i.get().digest()), now);
                    lookups.put(key, h);
                } catch (RuntimeException e) {
                    Hit old = lookups.get(key);
                    if (old != null) old.refreshing().set(false); // the next caller tries again
                    throw e;
                }
            }
        }
        if (h.image().isPresent() && h.image().get().status() == State.READY) used(h.image().get().digest());
        return h;
    }

    /** Rewrites the index and forgets cached lookups: what names mean has changed. */
    private void reindex() throws IOException {
        lookups.clear();
        try {
            db.withIndexLock(c -> {
                try {
                    pub.writeIndex(readyNames());
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return null;
            });
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
        lookups.clear();
    }

    List<Records.Name> namesOf(String digest) {
        return db.namesOf(digest);
    }

    /** May {@code c} read {@code i}? Public images: everyone; private ones: the owner, admins, the listed users and groups. */
    boolean visible(Records.Image i, Caller c) {
        if (!i.isPrivate() || c.admin() || i.owner().equals(c.user()) || i.allowedUsers().contains(c.user())) return true;
        if (i.allowedGroups().isEmpty() || c.uid() < 0) return false;
        for (String g : groups.of(c.user())) if (i.allowedGroups().contains(g)) return true;
        return false;
    }

    private final Groups groups = new Groups();

    private void used(String digest) {
        lastUse.put(digest, System.currentTimeMillis());
    }

    void flushLastUse() {
        if (lastUse.isEmpty()) return;
        Map<String, Long> batch = new java.util.HashMap<>(lastUse);
        db.touch(batch);
        batch.forEach(lastUse::remove);
    }

    /** Deletes an image: its files, its record, its names; the index is rewritten first so no node finds it any more. */
    void delete(String digest) throws IOException {
        Digest d = Digest.parse(digest);
        db.deleteImage(digest);
        reindex();
        pub.remove(d);
    }

    /** Expires READY images unused for {@code unusedMs}; returns their digests. */
    List<String> expire(long unusedMs) throws IOException {
        flushLastUse();
        long cutoff = System.currentTimeMillis() - unusedMs;
        List<String> expired = new ArrayList<>();
        for (Records.Image i : db.images())
            if (i.status() == State.READY && i.lastUsedMs() < cutoff) {
                db.setStatus(i.digest(), State.EXPIRED);
                expired.add(i.digest());
            }
        if (!expired.isEmpty()) {
            reindex();
            for (String d : expired) pub.remove(Digest.parse(d));
        }
        return expired;
    }

    /** Removes files no READY record names and temporaries older than {@code tmpAgeMs}. */
    List<Path> gc(long tmpAgeMs) throws IOException {
        long now = System.currentTimeMillis();
        return pub.collect(keepSet(), p -> {
            try {
                return now - Files.getLastModifiedTime(p).toMillis() > tmpAgeMs;
            } catch (IOException e) {
                return false;
            }
        });
    }

    @Override
    public void close() {
        closing = true;
        timers.shutdownNow();
        workers.shutdownNow();
        try {
            workers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            flushLastUse();
        } catch (RuntimeException ignored) {
            // database away at shutdown: last-use times of the last seconds are lost, nothing else
        }
    }
}
