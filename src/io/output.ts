/**
 * Where the CLI writes lines. A closed pipe (`kubewire decode … | head`) ends output quietly
 * instead of crashing. The console sink writes through it as well, so it lives below src/cli.
 */
export interface Output {
  line(text: string): void;
}

export class StdoutOutput implements Output {
  private closed = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  line(text: string): void {
    if (!this.closed) this.stream.write(text + '\n');
  }
}
