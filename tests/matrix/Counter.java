// tests/matrix/Counter.java PORT [THREADS]: a JVM with THREADS (20) worker
// threads, each counting on its own, and a tiny HTTP server on
// 127.0.0.1:PORT (JDK's com.sun.net.httpserver) that answers every request
// with the next number of a request counter and what the workers did:
//   count N workers W min M sum S
// where M is the smallest count of any worker: it grows only while every
// worker runs. tests/matrix.sh checks from outside that N goes on (N before
// a checkpoint or migration, N+1 after) and that M keeps growing.
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

public class Counter {
	public static void main(String[] args) throws Exception {
		int port = Integer.parseInt(args[0]);
		int nthreads = args.length > 1 ? Integer.parseInt(args[1]) : 20;
		AtomicLongArray ticks = new AtomicLongArray(nthreads);
		AtomicLong count = new AtomicLong();
		for (int i = 0; i < nthreads; i++) {
			final int k = i;
			Thread t = new Thread(() -> {
				for (;;) {
					ticks.incrementAndGet(k);
					try { Thread.sleep(20); } catch (InterruptedException e) { return; }
				}
			}, "worker-" + i);
			t.setDaemon(true);
			t.start();
		}
		HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
		s.createContext("/", ex -> {
			long min = Long.MAX_VALUE, sum = 0;
			for (int i = 0; i < nthreads; i++) {
				long v = ticks.get(i);
				min = Math.min(min, v);
				sum += v;
			}
			byte[] b = ("count " + count.incrementAndGet() + " workers " + nthreads + " min " + min + " sum " + sum + "\n")
				.getBytes(StandardCharsets.US_ASCII);
			ex.getResponseHeaders().set("Connection", "close");
			ex.sendResponseHeaders(200, b.length);
			try (OutputStream o = ex.getResponseBody()) { o.write(b); }
		});
		s.start();
	}
}
