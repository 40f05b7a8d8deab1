/** "1 block", "2 blocks": a count with its unit, as the API's texts and the CLI print it. */
export function counted (n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`
}
