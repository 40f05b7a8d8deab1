/**
 * The wire form of a pin request: the spec's PinStatus.
 */
import { formatTimestamp } from './timestamps.js'
import type { PinRecord, PinRequest, PinState } from '../pins/types.js'

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
