// TypeScript types of the worker-utils status feed (docs/protocol.md). Every text message
// the server sends on /ws is a `ServerMessage`; the one a client may send is a
// `SubscribeMessage`. The JSON Schema (status-event.schema.json) is the reference; a test
// (tests/status_types.rs) checks that these types match it, property by property.
//
//   const ws = new WebSocket("ws://127.0.0.1:9001/ws");
//   ws.onmessage = (m) => {
//     const msg = JSON.parse(m.data) as ServerMessage;
//     if (msg.type === "status") console.log(msg.job_id, msg.status);
//   };

/** A job's status. */
export type JobStatus = "PENDING" | "PROCESSING" | "COMPLETED" | "FAILED";

/** How an error is classified. */
export type ErrorKind = "transient" | "permanent" | "system" | "business_logic";

/** Why a client message was refused. */
export type ErrorCode = "invalid_message" | "too_many_entries";

/** Why a job failed: on FAILED, and on the PENDING of a redelivery. */
export interface StatusError {
  kind: ErrorKind;
  /** The error chain, at most 512 bytes plus an ellipsis when cut. */
  message: string;
}

/** One change of a job's status (a snapshot entry or a live event). Optional fields that
 * are not set are left out, as `JSON.stringify` leaves out `undefined` ones. */
export interface StatusMessage {
  type: "status";
  /** Per-server sequence number, increasing in publish order (from 1). */
  seq: number;
  job_id: number;
  queue: string;
  /** The worker instance; empty for PENDING. */
  worker: string;
  status: JobStatus;
  /** The status before, when known. */
  previous?: JobStatus;
  /** Delivery number, 1 on first delivery; on the PENDING of a redelivery, the delivery to come. */
  attempt: number;
  /** RFC 3339, UTC, milliseconds: 2024-05-01T12:00:00.123Z. */
  timestamp: string;
  /** The same instant in milliseconds since the Unix epoch. */
  timestamp_ms: number;
  /** How long the job ran; on COMPLETED and FAILED. */
  duration_ms?: number;
  /** On the PENDING of a redelivery: when that delivery may start (Unix milliseconds). */
  due_at_ms?: number;
  /** On FAILED, and on the PENDING of a redelivery (the error that sent it back). */
  error?: StatusError;
}

/** The snapshot is complete; every later status event has a seq above this one. */
export interface ReadyMessage {
  type: "ready";
  seq: number;
  /** How many status events the snapshot held. */
  snapshot: number;
}

/** The reply to a subscribe message; a filtered snapshot and ready follow. */
export interface SubscribedMessage {
  type: "subscribed";
  queues: string[];
  job_ids: number[];
}

/** The client fell behind and this many events were skipped; send a subscribe to resync. */
export interface LaggedMessage {
  type: "lagged";
  missed: number;
}

/** A client message was refused; the connection stays open. */
export interface ErrorMessage {
  type: "error";
  code: ErrorCode;
  message: string;
}

/** What an alert rule measures. */
export type AlertMetric = "failure_rate" | "dead_letter_rate";

/** Whether an alert starts or ends an episode. */
export type AlertState = "FIRING" | "RESOLVED";

/** An alert rule of a worker fired or resolved. Not numbered: sent live, and those firing after each ready. */
export interface AlertMessage {
  type: "alert";
  /** The rule's name. */
  rule: string;
  queue: string;
  /** The worker instance that raised it; each watches its own deliveries. */
  worker: string;
  /** The action the rule watches; null for the whole queue. */
  action: string | null;
  metric: AlertMetric;
  state: AlertState;
  /** The rate when it changed state, from 0 to 1. */
  rate: number;
  /** Calls in the window then. */
  calls: number;
  /** Of those, failures by the rule's metric. */
  failures: number;
  /** Fires at this rate or above. */
  threshold: number;
  /** Resolves below this rate. */
  resolve_below: number;
  /** The rule's sliding window. */
  window_ms: number;
  /** When it changed state, in Unix milliseconds. */
  timestamp_ms: number;
}

/** Every message the server sends, told apart by `type`. */
export type ServerMessage = StatusMessage | ReadyMessage | SubscribedMessage | LaggedMessage | ErrorMessage | AlertMessage;

/** The one message a client may send (at most 256 entries per list; empty means everything). */
export interface SubscribeMessage {
  type: "subscribe";
  queues?: string[];
  job_ids?: number[];
}

// The admin API (docs/protocol.md, "Admin API"): requests carry
// `Authorization: Bearer ADMIN_TOKEN`; these are the JSON bodies.

/** Why a retry loop stopped before the last failure. */
export type GiveUpReason = "max_attempts" | "not_retryable" | "deadline_reached" | "cancelled" | "budget_exhausted";

/** One failed attempt within a delivery. */
export interface AttemptFailure {
  attempt: number;
  kind: ErrorKind;
  message: string;
}

/** One failed delivery of a job. */
export interface DeliveryFailure {
  delivery: number;
  kind: ErrorKind;
  action: string;
  message: string;
  attempts: AttemptFailure[];
  gave_up: GiveUpReason | null;
  failed_at_ms: number;
}

/** A dead letter: the job's payload and every delivery's failure, oldest first. */
export interface DeadLetter<Job = unknown> {
  id: number;
  job: Job;
  deliveries: number;
  earlier: DeliveryFailure[];
  failure: DeliveryFailure;
  /** The W3C trace context of the span that enqueued the job (feature `otel`). */
  trace?: TraceContext;
}

/** W3C trace context headers, as the producer's span wrote them. */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/** `GET /api/dead-letters`: the newest 5 000 dead letters, oldest first. */
export interface DeadLetterList<Job = unknown> {
  queue: string;
  total: number;
  dead_letters: DeadLetter<Job>[];
}

/** The body of `POST /api/dead-letters/requeue` and `POST /api/dead-letters/delete`. */
export interface DeadLetterIds {
  ids: number[];
}

/** The answer to a requeue: `[old_id, new_id]` for each dead letter found. */
export interface RequeueReply {
  requeued: [number, number][];
}

/** The answer to a delete. */
export interface DeleteReply {
  deleted: number;
}
