/**
 * Notifications: every change of a pin request becomes an event in a durable
 * log, streamed live over Server-Sent Events and delivered to webhooks.
 */
import type { PinStatusBody } from '../http/pin-status.js'

/** Every event type, in lifecycle order. */
export const EVENT_TYPES = [
  'pin.queued', 'pin.pinning', 'pin.progress', 'pin.pinned', 'pin.failed', 'pin.replaced', 'pin.deleted'
] as const

/** The type of a pin event. */
export type PinEventType = typeof EVENT_TYPES[number]

/** One event as streamed and delivered (JSON). */
export interface PinEvent {
  /** Decimal, unique and increasing service-wide (compare as integers). */
  id: string
  type: PinEventType
  /** RFC 3339, when the change was written. */
  time: string
  /** The request's owner. */
  user: string
  /** The request's PinStatus after the change (before it, for pin.replaced and pin.deleted). */
  pin: PinStatusBody
  /** Why it failed (pin.failed). */
  reason?: string
  /** The request that replaced it (pin.replaced). */
  replaced_by?: string
  /** Fetched so far (pin.progress). */
  progress?: { blocks: number, bytes: number }
}

export { createEventLog, type EventLog, type EventLogInit, type LoggedEvent } from './event-log.js'
export { createProgressTicker, type ProgressTicker } from './progress-ticker.js'
export { createEventStreams, type EventStreams, type EventStreamsInit } from './event-stream.js'
