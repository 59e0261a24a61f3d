// graphile-worker doing the work of ./bench jobs (jobs-burst and jobs-rate-R) with a no-op task, on the database in
// PEER_DATABASE_URL. benchmark/PeersScenario.cs runs it under ./bench peers and reports its RESULT lines with ours beside them.
import { Logger, makeWorkerUtils, run } from "graphile-worker";

const connectionString = process.env.PEER_DATABASE_URL;
const burstJobs = Number(process.env.BENCH_JOBS ?? "20000");
const rates = (process.env.BENCH_JOB_RATES ?? "200,1000").split(",").map(Number);
const seconds = Number(process.env.BENCH_SECONDS ?? "8");
const producers = 64;
const workers = 16;

// Milliseconds from a job's offer to its task run (performance.now() of this one process).
let done = [];
const taskList = {
  noop: async (payload) => {
    done.push(performance.now() - payload.offered);
  },
};

// Warnings and errors only: at info it logs a line per job, and ours runs at Warning too.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`graphile-worker ${level}: ${message}`);
});

// The producers' pool: a connection each, as 64 producing processes would have.
const utils = await makeWorkerUtils({ connectionString, maxPoolSize: producers, logger });
await utils.migrate();
// The runner as graphile-worker's docs advise for 16 jobs at a time: a pool of concurrency + 2. New jobs reach it by
// LISTEN/NOTIFY (its default); it polls every 2 s (pollInterval, its default) only as a fallback.
const runner = await run({ connectionString, concurrency: workers, maxPoolSize: workers + 2, noHandleSignals: true, taskList, logger });

const addJob = () => utils.addJob("noop", { offered: performance.now() });

await addMany(200); // warm up every path a job takes, as ours does
await waitUntilFinished(120_000);
// Planner statistics, as a queue that has run a while has them (./bench does the same for ours and Hangfire after theirs).
await utils.withPgClient((client) => client.query("ANALYZE"));

let started = performance.now();
await addMany(burstJobs);
const accepting = performance.now() - started;
let backlog = await unfinished();
const drained = await waitUntilFinished(30 * 60_000);
const finishing = performance.now() - started;
result("burst", {
  jobs: burstJobs, producers, accepted_per_s: burstJobs / (accepting / 1000), finished_per_s: burstJobs / (finishing / 1000),
  backlog_when_accepted: backlog, drained,
});

for (const rate of rates) {
  done = [];
  const adds = [];
  started = performance.now();
  // A tick every 1/rate s for the measured time. Node's timers run late under load, so each tick offers every job due by
  // then: the rate offered is the rate asked (ours and Hangfire's PeriodicTimer offer one a tick; see offered_per_s_achieved).
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      const elapsed = Math.min(performance.now() - started, seconds * 1000);
      while (adds.length < Math.floor((elapsed * rate) / 1000)) adds.push(addJob());
      if (elapsed >= seconds * 1000) {
        clearInterval(tick);
        resolve();
      }
    }, 1000 / rate);
  });
  await Promise.all(adds);
  backlog = await unfinished();
  await waitUntilFinished(120_000);
  result(`rate-${rate}`, {
    offered_per_s: rate, jobs: adds.length, offered_per_s_achieved: adds.length / seconds,
    end_p50_ms: percentile(done, 50), end_p99_ms: percentile(done, 99), end_max_ms: percentile(done, 100),
    backlog_when_offering_stopped: backlog, not_finished: adds.length - done.length,
  });
}

await runner.stop();
await utils.release();

/** Adds jobs from 64 producers, each adding its next job when its last was added. */
async function addMany(count) {
  let next = 0;
  await Promise.all(Array.from({ length: producers }, async () => {
    while (next++ < count) await addJob();
  }));
}

/** Jobs not yet done: graphile-worker deletes a job's row when it succeeds. */
async function unfinished() {
  return utils.withPgClient(async (client) => (await client.query("SELECT count(*)::int AS n FROM graphile_worker.jobs")).rows[0].n);
}

async function waitUntilFinished(patienceMs) {
  const clock = performance.now();
  while ((await unfinished()) > 0) {
    if (performance.now() - clock > patienceMs) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** The nearest-rank percentile, as benchmark/Measure.cs's Latencies. */
function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A RESULT line as Report.Result prints one; PeersScenario.cs reads it and reports it with ours beside it. */
function result(name, values) {
  const format = (v) =>
    typeof v === "boolean" ? (v ? "True" : "False") : typeof v !== "number" || Number.isInteger(v) ? String(v) : v.toFixed(v >= 100 ? 0 : 2);
  console.log(`RESULT scenario=peers-graphile-worker-${name} ` + Object.entries(values).map(([k, v]) => `${k}=${format(v)}`).join(" "));
}
