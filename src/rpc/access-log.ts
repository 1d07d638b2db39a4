/**
 * The access log: one line per call at info, `{"method":"ledger.v1.LedgerService/Load",
 * "code":"OK","durationMs":0.8,"msg":"call"}`. Each method gets a child logger whose binding
 * (the method's name) is serialized once, so a call makes one small object (code and duration)
 * and no strings. The lines carry no caller data, so the child skips the redaction pass that
 * every other line goes through.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { Logger } from "../logger.js";

export class AccessLog {
  private readonly byMethod = new Map<DescMethod, Logger>();

  constructor(private readonly logger: Logger) {}

  /** The logger of one method; its lines carry `"method":"<service>/<method>"`. */
  of(service: DescService, method: DescMethod): Logger {
    let methodLogger = this.byMethod.get(method);
    if (methodLogger === undefined) {
      methodLogger = this.logger.child({ method: methodName(service, method) }, { redact: { paths: [] } });
      this.byMethod.set(method, methodLogger);
    }
    return methodLogger;
  }
}

/** "ledger.v1.LedgerService/Load", as operators grep for it. */
export function methodName(service: DescService, method: DescMethod): string {
  return `${service.typeName}/${method.name}`;
}
