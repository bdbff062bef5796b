import chalk from 'chalk';
import ora, { type Ora } from 'ora';

/**
 * The one object through which steps report progress (start -> end(ok)), like kind's status.
 * Steps never print directly. Human output goes to stderr in --json mode so stdout stays machine-readable.
 */
export interface Status {
  start(name: string): void;
  update(text: string): void;
  end(ok: boolean, note?: string): void;
  info(text: string): void;
  warn(text: string): void;
  debug(text: string): void;
}

export interface StatusOptions {
  stream: NodeJS.WriteStream;
  interactive: boolean;
  verbose: boolean;
}

function elapsed(startedAt: number): string {
  const s = (Date.now() - startedAt) / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}

/** Spinner on a terminal, plain timestamped lines otherwise (CI, pipes, --json). */
export class ConsoleStatus implements Status {
  private spinner: Ora | undefined;
  private step: string | undefined;
  private startedAt = 0;
  private ticker: NodeJS.Timeout | undefined;
  private lastText = '';

  constructor(private readonly opts: StatusOptions) {}

  start(name: string): void {
    if (this.step) this.end(true);
    this.step = name;
    this.startedAt = Date.now();
    this.lastText = '';
    if (this.opts.interactive) {
      this.spinner = ora({ text: name, stream: this.opts.stream }).start();
      this.ticker = setInterval(() => this.render(), 250);
      this.ticker.unref();
    } else {
      this.line(`• ${name} ...`);
    }
  }

  update(text: string): void {
    this.lastText = text;
    if (this.spinner) this.render();
    else if (this.opts.verbose) this.line(`  ${text}`);
  }

  end(ok: boolean, note?: string): void {
    if (!this.step) return;
    const text = `${this.step} (${elapsed(this.startedAt)})${note ? ` — ${note}` : ''}`;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    if (this.spinner) {
      if (ok) this.spinner.succeed(text);
      else this.spinner.fail(text);
      this.spinner = undefined;
    } else {
      this.line(`${ok ? chalk.green('✓') : chalk.red('✗')} ${text}`);
    }
    this.step = undefined;
  }

  info(text: string): void {
    this.interleave(() => this.line(text));
  }

  warn(text: string): void {
    this.interleave(() => this.line(chalk.yellow(`! ${text}`)));
  }

  debug(text: string): void {
    if (this.opts.verbose) this.interleave(() => this.line(chalk.dim(text)));
  }

  private render(): void {
    if (!this.spinner || !this.step) return;
    const extra = this.lastText ? ` — ${this.lastText}` : '';
    this.spinner.text = `${this.step} (${elapsed(this.startedAt)})${extra}`;
  }

  private interleave(print: () => void): void {
    if (this.spinner) {
      this.spinner.clear();
      print();
      this.spinner.render();
    } else {
      print();
    }
  }

  private line(text: string): void {
    this.opts.stream.write(`${text}\n`);
  }
}

/** One line of `--log-format json`: what log collectors (Loki, Elasticsearch, jq) read without parsing text. */
export interface LogRecord {
  time: string;
  /** The same for every line of one CLI invocation. */
  run_id: string;
  level: 'info' | 'warn' | 'debug' | 'error';
  event: 'step_start' | 'step_progress' | 'step_end' | 'message' | 'error';
  step?: string;
  ok?: boolean;
  elapsed_ms?: number;
  message?: string;
  fix?: string;
  detail?: string;
}

/** `--log-format json`: every status event as a JSON line, with the invocation's run id. */
export class JsonLinesStatus implements Status {
  private step: string | undefined;
  private startedAt = 0;

  constructor(private readonly opts: { stream: NodeJS.WriteStream; runId: string; verbose: boolean }) {}

  start(name: string): void {
    if (this.step) this.end(true);
    this.step = name;
    this.startedAt = Date.now();
    this.write({ level: 'info', event: 'step_start', step: name });
  }

  update(text: string): void {
    if (this.opts.verbose) this.write({ level: 'debug', event: 'step_progress', step: this.step, message: text });
  }

  end(ok: boolean, note?: string): void {
    if (!this.step) return;
    this.write({ level: ok ? 'info' : 'error', event: 'step_end', step: this.step, ok, elapsed_ms: Date.now() - this.startedAt, message: note });
    this.step = undefined;
  }

  info(text: string): void {
    this.write({ level: 'info', event: 'message', message: text });
  }

  warn(text: string): void {
    this.write({ level: 'warn', event: 'message', message: text });
  }

  debug(text: string): void {
    if (this.opts.verbose) this.write({ level: 'debug', event: 'message', message: text });
  }

  /** The central error handler's record of a failed command. */
  error(message: string, fix?: string, detail?: string): void {
    this.write({ level: 'error', event: 'error', message, fix, detail });
  }

  private write(record: Omit<LogRecord, 'time' | 'run_id'>): void {
    const line: LogRecord = { time: new Date().toISOString(), run_id: this.opts.runId, ...record };
    this.opts.stream.write(`${JSON.stringify(line)}\n`);
  }
}

/** Records everything; for tests of steps and commands. */
export class RecordingStatus implements Status {
  readonly events: string[] = [];
  start(name: string): void { this.events.push(`start ${name}`); }
  update(text: string): void { this.events.push(`update ${text}`); }
  end(ok: boolean, note?: string): void { this.events.push(`end ${ok ? 'ok' : 'fail'}${note ? ` ${note}` : ''}`); }
  info(text: string): void { this.events.push(`info ${text}`); }
  warn(text: string): void { this.events.push(`warn ${text}`); }
  debug(text: string): void { this.events.push(`debug ${text}`); }
}
