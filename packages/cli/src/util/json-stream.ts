// One JSON document written as results come (classify/predict --json over folders of any size): the
// fields known up front, then one array streamed item by item, then the closing fields. Nothing is
// held until the end, and a slow reader applies backpressure (the writer waits for 'drain').
import { once } from 'node:events';

export class JsonStreamWriter {
  private first = true;
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  private async write(s: string): Promise<void> {
    if (!this.out.write(s)) await once(this.out, 'drain');
  }

  private static fields(o: Record<string, unknown>): string[] {
    return Object.entries(o)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v, null, 2).replace(/\n/g, '\n  ')}`);
  }

  /** `{`, the fields of `head`, and the opening of the streamed array `field`. */
  async begin(head: Record<string, unknown>, field: string): Promise<void> {
    await this.write(`{\n${[...JsonStreamWriter.fields(head), `  ${JSON.stringify(field)}: [`].join(',\n')}`);
  }

  /** One element of the array. */
  async item(v: unknown): Promise<void> {
    await this.write(`${this.first ? '\n' : ',\n'}    ${JSON.stringify(v)}`);
    this.first = false;
  }

  /** Closes the array, writes the fields of `tail` and `}`. */
  async end(tail: Record<string, unknown>): Promise<void> {
    const rest = JsonStreamWriter.fields(tail);
    await this.write(`${this.first ? '' : '\n  '}]${rest.length ? `,\n${rest.join(',\n')}` : ''}\n}\n`);
  }
}
