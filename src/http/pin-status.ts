/**
 * The wire form of a pin request: the spec's PinStatus.
 */
import { formatTimestamp } from './timestamps.js'
import type { PinRecord, PinRequest, PinService, PinState } from '../pins/types.js'

/** PinStatus as the spec defines it. */
export interface PinStatusBody {
  requestid: string
  status: PinState
  created: string
  pin: PinRequest
  delegates: string[]
  info: Record<string, string>
}

/** Renders a record; `details` is live progress for queued and pinning requests. */
export function toPinStatus (record: PinRecord, delegates: string[], details: string | undefined): PinStatusBody {
  const info: Record<string, string> = {}
  if (record.status === 'failed') info.status_details = record.failure ?? 'failed'
  else if (details != null) info.status_details = details
  if (record.status === 'pinned' && record.dagSize != null) info.dag_size = String(record.dagSize)
  return {
    requestid: record.requestid,
    status: record.status,
    created: formatTimestamp(record.created),
    pin: record.pin,
    delegates,
    info
  }
}

/** What {@link pinStatusRenderer} reads: the node's delegates and each request's live progress. */
export interface PinStatusComponents {
  pins: Pick<PinService, 'statusDetails'>
  delegates(): string[]
}

/** The one way routes render a record: with the current delegates and the request's progress. */
export function pinStatusRenderer (components: PinStatusComponents): (record: PinRecord) => PinStatusBody {
  return record => toPinStatus(record, components.delegates(), components.pins.statusDetails(record))
}
