package skiff.squashfs;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * A least-recently-used map bounded by total weight (an estimate of bytes held), safe for concurrent use.
 * A long-running reader (the FUSE server) sees every inode and directory of an image over time: without a
 * bound its caches would grow to the size of the image's metadata.
 */
final class Lru<K, V> {
    private final long maxWeight;
    private final ToLongFunction<V> weigher;
    private long weight;
    private final LinkedHashMap<K, V> map = new LinkedHashMap<>(256, 0.75f, true);

    Lru(long maxWeight, ToLongFunction<V> weigher) {
        this.maxWeight = maxWeight;
        this.weigher = weigher;
    }

    synchronized V get(K key) {
        return map.get(key);
    }

    synchronized void put(K key, V value) {
        long w = weigher.applyAsLong(value);
        if (w > maxWeight) return;
        V old = map.put(key, value);
        if (old != null) weight -= weigher.applyAsLong(old);
        weight += w;
        var it = map.entrySet().iterator();
        while (weight > maxWeight && it.hasNext()) {
            Map.Entry<K, V> e = it.next();
            weight -= weigher.applyAsLong(e.getValue());
            it.remove();
        }
    }

    synchronized long weight() {
        return weight;
    }
}
