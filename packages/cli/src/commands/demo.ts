// `mnv2 demo`: placeholder until the network module lands (filled in by the engine issue's work).
export async function demo(_args: string[]): Promise<number> {
  console.error('mnv2 demo: not built yet');
  return 1;
}
