// The seed article's "Runnable Example" (Async API Patterns for Web and Mobile: An Opinionated Default), ported from
// TypeScript to plain JavaScript as it stands: every job and idempotency key in a Map of this one process, nothing written
// anywhere. benchmark/SketchScenario.cs starts it on 127.0.0.1:PORT under ./bench sketch and measures it with wrk, beside
// our submit and status. Only what the article leaves out is added, and said so: hash, enqueue, and the listen call.
import express from "express";
import { createHash, randomUUID } from "crypto";
import { EventEmitter } from "events";

const app = express();
app.use(express.json());

// Job: { id, status: "queued" | "processing" | "completed" | "failed", progress, result? }
const jobs = new Map();
const events = new EventEmitter();

// Idempotency-Key cache: key -> { bodyHash, jobId }
const idem = new Map();

// Not in the article: its body fingerprint, as SHA-256 of the JSON.
const hash = (text) => createHash("sha256").update(text).digest("hex");

// Not in the article, which leaves enqueue undefined: the smallest worker it implies, running the job in this process as
// soon as the request is answered, one step of no work, each change emitted to the SSE listeners as the article's stream
// expects. Ours runs a 1-step 0 ms job in the benchmark, so this is the same job without the queue, the runner and the store.
function enqueue(jobId) {
  const job = jobs.get(jobId);
  setImmediate(() => {
    job.status = "processing";
    events.emit("job", job);
    setTimeout(() => {
      job.progress = 100;
      events.emit("job", job);
      job.status = "completed";
      events.emit("job", job);
    }, 0);
  });
}

app.post("/transcodes", (req, res) => {
  const key = req.header("Idempotency-Key");
  const bodyHash = hash(JSON.stringify(req.body));

  if (key) {
    const cached = idem.get(key);
    if (cached) {
      if (cached.bodyHash === bodyHash) {
        return res.status(202).json({ jobId: cached.jobId });
      }
      return res
        .status(422)
        .json({ error: "idempotency_key_reused_with_different_body" });
    }
  }

  const jobId = randomUUID();
  const job = { id: jobId, status: "queued", progress: 0 };
  jobs.set(jobId, job);
  if (key) idem.set(key, { bodyHash, jobId });

  enqueue(jobId);
  res.status(202).location(`/jobs/${jobId}`).json({ jobId });
});

app.get("/jobs/:id/events", (req, res) => {
  const { id } = req.params;
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    Connection: "keep-alive",
  });

  // Replay current state on connect, then stream updates.
  const job = jobs.get(id);
  if (job) {
    res.write(`event: status\ndata: ${JSON.stringify(job)}\n\n`);
  }

  const listener = (update) => {
    if (update.id !== id) return;
    res.write(`id: ${Date.now()}\n`);
    res.write(`event: ${update.status}\n`);
    res.write(`data: ${JSON.stringify(update)}\n\n`);
  };

  events.on("job", listener);
  req.on("close", () => events.off("job", listener));
});

app.get("/jobs/:id", (req, res) => {
  const job = jobs.get(req.params.id);
  if (!job) return res.sendStatus(404);
  res.json(job);
});

// Not in the article: where it listens, and a line to say it is ready (SketchScenario waits for it). Express 5 passes a
// failure to listen (the port taken) to the callback instead of throwing it.
const port = Number(process.env.PORT ?? "3000");
app.listen(port, "127.0.0.1", (error) => {
  if (error) throw error;
  console.log(`listening ${port}`);
});
