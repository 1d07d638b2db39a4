/**
 * The access log: one line per call at info, `{"method":"ledger.v1.LedgerService/Load",
 * "code":"OK","durationMs":0.8,"msg":"call"}`. With the service's own logger each method's line is
 * formatted straight into the log sink (`accessLineWriter`), so a call makes one string and no
 * objects; with any other pino logger, a child per method whose binding is serialized once. The
 * lines carry no caller data, so they skip the redaction pass that every other line goes through.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { accessLineWriter, type AccessLineWriter, type Logger } from "../logger.js";

export class AccessLog {
  private readonly byMethod = new Map<DescMethod, AccessLineWriter>();

  constructor(private readonly logger: Logger) {}

  /** The writer of one method's lines; they carry `"method":"<service>/<method>"`. */
  of(service: DescService, method: DescMethod): AccessLineWriter {
    let writer = this.byMethod.get(method);
    if (writer === undefined) {
      const name = methodName(service, method);
      writer = accessLineWriter(this.logger, name) ?? pinoLineWriter(this.logger, name);
      this.byMethod.set(method, writer);
    }
    return writer;
  }
}

function pinoLineWriter(logger: Logger, method: string): AccessLineWriter {
  const methodLogger = logger.child({ method }, { redact: { paths: [] } });
  return (code, durationMs) => methodLogger.info({ code, durationMs }, "call");
}

/** "ledger.v1.LedgerService/Load", as operators grep for it. */
export function methodName(service: DescService, method: DescMethod): string {
  return `${service.typeName}/${method.name}`;
}
