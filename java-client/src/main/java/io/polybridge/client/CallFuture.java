package io.polybridge.client;

import io.aeron.Publication;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * The future of one call, and the client agent's record of it while it is pending: one object
 * per call, so the raw path allocates nothing beyond the future it returns and the response bytes.
 * <p>
 * Cancelling it completes it as cancelled here at once and tells the worker, which drops the
 * request if it has not started it. The agent completes it on the completion executor by running
 * it: {@link #run()} applies the outcome the agent set.
 * <p>
 * Invoker: a thread waiting on it ({@link #join()}, {@link #get()}, {@link #get(long, TimeUnit)})
 * becomes its {@code waiter} and runs the client agent's duty cycle itself ({@link ClientAgent#invoke()},
 * a try-lock shared with the agent thread), spinning, yielding, then parking (50 µs doubling to 100 µs for
 * the first 10 ms of the wait, then to 1 ms) in between,
 * and completes this future on its own thread: no executor hop, no unpark when it polled the response
 * itself. Exactly once, and never lost: the duty cycle sets the outcome (volatile) first and then reads
 * the waiter: set, it unparks it (or leaves it to itself); unset, it hands this to the executor. A waiter
 * leaving without the outcome (timeout, interrupt) clears itself first and then reads the outcome,
 * completing the future if it is set. Both sides write, then read the other's variable (volatile, so
 * sequentially consistent): at least one of them sees the other's write, so at least one completes it;
 * both completing is harmless ({@code complete} is a compare-and-set).
 */
final class CallFuture extends CompletableFuture<byte[]> implements Runnable
{
    /**
     * A waiter's parks: from {@link #MIN_WAITER_PARK_NS} doubling up to {@link #SHORT_WAIT_MAX_PARK_NS}
     * while it has waited less than {@link #SHORT_WAIT_NS}, then up to {@link #MAX_WAITER_PARK_NS}. A
     * call that takes milliseconds (a page parsed) is found at most ~0.1 ms late; one that takes
     * seconds costs its waiter ~1,000 wake-ups a second, not 10,000. Measured on the real job (Rust
     * html.signals, one page at a time): with parks up to 1 ms from the start the overhead over
     * in-process was +26-36 %, against +13 % before the invoker.
     */
    private static final long MAX_WAITER_PARK_NS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long SHORT_WAIT_MAX_PARK_NS = TimeUnit.MICROSECONDS.toNanos(100);
    private static final long SHORT_WAIT_NS = TimeUnit.MILLISECONDS.toNanos(10);

    /** Linux wakes a parked thread no sooner than its timer slack (50 µs), so parks start there. */
    private static final long MIN_WAITER_PARK_NS = TimeUnit.MICROSECONDS.toNanos(50);

    /**
     * Yields before a waiter parks. Yielding longer (1 ms was tried) did not bring the first call after a
     * pause any closer (that waits for the worker's wake-ups, 0.4-0.7 ms on this VM) and took cores from
     * handlers on a small machine.
     */
    private static final int WAITER_YIELDS = 50;
    private static final VarHandle WAITER;
    private static final VarHandle VIEW;

    static
    {
        try
        {
            WAITER = MethodHandles.lookup().findVarHandle(CallFuture.class, "waiter", Thread.class);
            VIEW = MethodHandles.lookup().findVarHandle(CallFuture.class, "view", PayloadView.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    final long correlationId;
    final long deadlineNs;
    CallFuture earlier; // DeadlineQueue's links while the call is pending: agent thread only
    CallFuture later;
    byte deadlineLane = -1;
    boolean registered; // set by the agent when it first takes the call; a second hand-off abandons it
    final WorkerLink link; // null when the caller did not say which worker (liveness then does not apply)
    /**
     * Where its payload lies in the client's request region, -1 when inline. Set before the hand-off; the
     * agent keeps the loan until the worker answers (or is known dead), whenever the future completes.
     */
    int loanOffset = -1;
    int loanLength;
    /** The caller reads a lent response in place ({@link PayloadView}) rather than as a copy. */
    final boolean inPlace;
    private final RequestProxy proxy;
    final Publication publication;
    @SuppressWarnings("unused") // through VIEW
    private volatile PayloadView view; // a lent response for an in-place call, set before the outcome
    private volatile Object outcome; // byte[] or Throwable, set by the agent before it completes it (see above)
    private volatile Thread waiter; // the thread waiting and polling for it, if any

    CallFuture(
        final RequestProxy proxy,
        final Publication publication,
        final WorkerLink link,
        final long correlationId,
        final long deadlineNs)
    {
        this(proxy, publication, link, correlationId, deadlineNs, false);
    }

    CallFuture(
        final RequestProxy proxy,
        final Publication publication,
        final WorkerLink link,
        final long correlationId,
        final long deadlineNs,
        final boolean inPlace)
    {
        this.inPlace = inPlace;
        this.link = link;
        this.proxy = proxy;
        this.publication = publication;
        this.correlationId = correlationId;
        this.deadlineNs = deadlineNs;
    }

    /** Set the outcome; whoever runs {@link #run()} after this completes the future with it. */
    void outcome(final Object outcome)
    {
        this.outcome = outcome;
    }

    /** The agent: an in-place call's response lies in the worker's region; set before the outcome. */
    void view(final PayloadView view)
    {
        VIEW.setVolatile(this, view);
    }

    /** @return the lent response, once (whoever takes it closes it), or null when inline or already taken. */
    PayloadView takeView()
    {
        return (PayloadView)VIEW.getAndSet(this, (PayloadView)null);
    }

    /** @return the thread waiting and polling for this call, read after {@link #outcome(Object)}; or null. */
    Thread waiter()
    {
        return waiter;
    }

    public byte[] join()
    {
        if (!isDone() && claimWaiter())
        {
            awaitAsWaiter(false, false, 0);
        }
        return super.join();
    }

    public byte[] get() throws InterruptedException, ExecutionException
    {
        if (!isDone() && claimWaiter())
        {
            awaitInterruptibly(false, 0);
        }
        return super.get();
    }

    public byte[] get(final long timeout, final TimeUnit unit)
        throws InterruptedException, ExecutionException, TimeoutException
    {
        if (!isDone() && claimWaiter())
        {
            awaitInterruptibly(true, System.nanoTime() + unit.toNanos(timeout));
            if (!isDone())
            {
                throw new TimeoutException();
            }
        }
        return super.get(timeout, unit);
    }

    /** One waiter polls; another thread waiting on the same call waits as on any future. */
    private boolean claimWaiter()
    {
        return proxy.invoker != null && WAITER.compareAndSet(this, null, Thread.currentThread());
    }

    private void awaitInterruptibly(final boolean timed, final long deadlineNs) throws InterruptedException
    {
        if (!awaitAsWaiter(true, timed, deadlineNs))
        {
            throw new InterruptedException();
        }
    }

    /**
     * Poll until done (or the deadline): run the agent's duty cycle when nobody else is, idle in between.
     *
     * @return false when interrupted (only if interruptible; otherwise the interrupt is kept for after).
     */
    private boolean awaitAsWaiter(final boolean interruptible, final boolean timed, final long deadlineNs)
    {
        final ClientAgent invoker = proxy.invoker;
        boolean interrupted = false;
        int idles = 0;
        final long startNs = System.nanoTime();
        long parkNs = MIN_WAITER_PARK_NS;
        try
        {
            while (!isDone())
            {
                if (outcome != null)
                {
                    run();
                    break;
                }
                if (invoker.invoke() > 0)
                {
                    idles = 0;
                    parkNs = MIN_WAITER_PARK_NS;
                    continue;
                }
                if (Thread.interrupted())
                {
                    if (interruptible)
                    {
                        return false;
                    }
                    interrupted = true; // join: wait on, and keep the interrupt for the caller
                }
                long waitNs = Long.MAX_VALUE;
                if (timed)
                {
                    waitNs = deadlineNs - System.nanoTime();
                    if (waitNs <= 0)
                    {
                        break;
                    }
                }
                if (idles < 100)
                {
                    Thread.onSpinWait();
                }
                else if (idles < 100 + WAITER_YIELDS)
                {
                    Thread.yield();
                }
                else
                {
                    LockSupport.parkNanos(this, Math.min(parkNs, waitNs)); // the completing thread unparks it
                    parkNs = Math.min(parkNs << 1,
                        System.nanoTime() - startNs < SHORT_WAIT_NS ? SHORT_WAIT_MAX_PARK_NS : MAX_WAITER_PARK_NS);
                }
                idles++;
            }
            return true;
        }
        finally
        {
            waiter = null;
            if (outcome != null) // set after our last look: the agent may have seen us waiting, so it is ours
            {
                run();
            }
            if (interrupted)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    public void run()
    {
        final Object result = outcome;
        if (result instanceof Throwable error)
        {
            completeExceptionally(error);
        }
        else
        {
            complete((byte[])result);
        }
    }

    public boolean cancel(final boolean mayInterruptIfRunning)
    {
        final boolean cancelled = super.cancel(mayInterruptIfRunning);
        if (cancelled)
        {
            proxy.sendCancel(publication, correlationId);
        }
        return cancelled;
    }

    public <U> CompletableFuture<U> newIncompleteFuture()
    {
        return new CompletableFuture<>(); // dependents are plain futures: cancelling them is local
    }
}
