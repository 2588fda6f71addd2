// `mnv2 bench`: placeholder until the kernel benchmark lands.
export async function bench(_args: string[]): Promise<number> {
  console.error('mnv2 bench: not built yet');
  return 1;
}
