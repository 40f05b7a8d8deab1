/**
 * `pinery webhook …`: webhooks through the running service's HTTP API (they
 * live in the service, so these commands are online only).
 */
import { printable, table } from './format.js'
import { createRemoteCall } from './remote-call.js'

/** Where the service is and who is asking. */
export interface WebhookCliInit { url: string, token: string }

/** What the command gave: JSON for --json, text otherwise. */
export interface WebhookOutput { json: unknown, text: string }

/** Options the webhook commands read. */
export interface WebhookValues { events?: string, description?: string, all?: boolean }

interface View {
  id: string
  url: string
  events: string[]
  description: string
  all: boolean
  enabled: boolean
  disabled_reason?: string
  pending: string
}
interface Attempt {
  time: string
  event_id: string
  status_code: number | null
  latency_ms: number
  error: string | null
}
type TestResult = Omit<Attempt, 'time'> & { ok: boolean }

/** Runs `webhook VERB [ARG]`; throws a plain Error for bad usage (message says what is missing). */
export async function runWebhookCommand (
  init: WebhookCliInit,
  verb: string | undefined,
  arg: string | undefined,
  values: WebhookValues
): Promise<WebhookOutput> {
  const call = createRemoteCall(init)
  const id = (): string => {
    if (arg == null || arg === '') throw new UsageProblem('the webhook ID is required')
    return encodeURIComponent(arg)
  }
  const state = (h: View): string => h.enabled ? 'enabled' : `disabled: ${h.disabled_reason ?? ''}`

  switch (verb) {
    case 'add': {
      if (arg == null) throw new UsageProblem('the URL is required')
      if (values.events == null) throw new UsageProblem('--events TYPE[,TYPE…] is required')
      const created = await call<View & { secret: string }>('POST', '/webhooks', {
        url: arg,
        events: values.events.split(',').map(s => s.trim()).filter(Boolean),
        ...(values.description != null ? { description: values.description } : {}),
        ...(values.all === true ? { all: true } : {})
      })
      const text = printable(`webhook ${created.id}`) + '\n' +
        printable(`secret ${created.secret}  (shown once: keep it to verify signatures)`) + '\n'
      return { json: created, text }
    }
    case 'list': {
      const { results } = await call<{ results: View[] }>('GET', '/webhooks')
      const rows = results.map(h => [h.id, h.url, h.events.join(','), h.pending, state(h)])
      return { json: results, text: table(['ID', 'URL', 'EVENTS', 'PENDING', 'STATE'], rows) }
    }
    case 'rm': {
      await call('DELETE', `/webhooks/${id()}`)
      return { json: { removed: arg }, text: `removed webhook ${printable(arg as string)}\n` }
    }
    case 'enable': {
      const h = await call<View>('PATCH', `/webhooks/${id()}`, { enabled: true })
      return { json: h, text: `${printable(`webhook ${h.id} ${state(h)}`)}\n` }
    }
    case 'test': {
      const r = await call<TestResult>('POST', `/webhooks/${id()}/test`)
      const text = printable(r.ok
        ? `delivered ${r.event_id}: ${r.status_code ?? ''} in ${r.latency_ms} ms`
        : `failed ${r.event_id}: ${r.error ?? ''}`) + '\n'
      return { json: r, text }
    }
    case 'deliveries': {
      const { results } = await call<{ results: Attempt[] }>('GET', `/webhooks/${id()}/deliveries`)
      const rows = results.map(a => [
        a.time, a.event_id, String(a.status_code ?? '-'), String(a.latency_ms), a.error ?? ''
      ])
      return { json: results, text: table(['TIME', 'EVENT', 'STATUS', 'MS', 'ERROR'], rows) }
    }
    default: throw new UsageProblem(`unknown command "webhook ${verb ?? ''}"`)
  }
}

/** A webhook command was given wrongly. */
export class UsageProblem extends Error {
  static override name = 'UsageProblem'
  override name = UsageProblem.name
}
