/**
 * gRPC server reflection, v1 and v1alpha, so that grpcurl, ghz and other tools can list the
 * services and call them without the proto files. Both versions share one implementation: their
 * messages are identical on the wire, so v1alpha requests are re-read as v1 and answers written
 * back as v1alpha.
 */
import {
  create,
  fromBinary,
  toBinary,
  createRegistry,
  type DescFile,
  type MessageShape,
  type Registry,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

type Request = MessageShape<typeof v1.ServerReflectionRequestSchema>;
type Response = MessageShape<typeof v1.ServerReflectionResponseSchema>;
/** The fields every answer echoes from its request. */
interface Echo {
  readonly validHost: string;
  readonly originalRequest: Request;
}

/** Answers reflection requests about the files the server serves and their imports. */
export class Reflector {
  private readonly filesByName = new Map<string, DescFile>();
  private readonly registry: Registry;

  constructor(
    files: readonly DescFile[],
    private readonly serviceNames: readonly string[],
  ) {
    const visit = (file: DescFile) => {
      if (this.filesByName.has(file.proto.name)) return;
      this.filesByName.set(file.proto.name, file);
      file.dependencies.forEach(visit);
    };
    files.forEach(visit);
    this.registry = createRegistry(...this.filesByName.values());
  }

  answer(request: Request): Response {
    const base: Echo = { validHost: request.host, originalRequest: request };
    const query = request.messageRequest;
    switch (query.case) {
      case "listServices":
        return create(v1.ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "listServicesResponse",
            value: { service: this.serviceNames.map((name) => ({ name })) },
          },
        });
      case "fileByFilename":
        return this.files(base, this.filesByName.get(query.value), `file ${query.value}`);
      case "fileContainingSymbol":
        return this.files(base, this.fileOfSymbol(query.value), `symbol ${query.value}`);
      case "allExtensionNumbersOfType": {
        const message = this.registry.getMessage(query.value);
        if (message === undefined) return this.notFound(base, `type ${query.value}`);
        return create(v1.ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: query.value, extensionNumber: [] },
          },
        });
      }
      case "fileContainingExtension":
        return this.notFound(base, `extension ${query.value.containingType}(${query.value.extensionNumber})`);
      case undefined:
        return create(v1.ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "errorResponse",
            value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" },
          },
        });
    }
  }

  /** The file that defines a message, enum, service, method or extension by full name. */
  private fileOfSymbol(symbol: string): DescFile | undefined {
    const found = this.registry.get(symbol);
    if (found !== undefined) return found.file;
    // A method or a field: its parent names a service or a message.
    const parent = symbol.slice(0, Math.max(0, symbol.lastIndexOf(".")));
    const container = this.registry.get(parent);
    return container?.kind === "service" || container?.kind === "message" ? container.file : undefined;
  }

  /** The file with its transitive dependencies, dependencies first, as grpcurl expects. */
  private files(base: Echo, file: DescFile | undefined, what: string): Response {
    if (file === undefined) return this.notFound(base, what);
    const ordered: DescFile[] = [];
    const visit = (current: DescFile) => {
      if (ordered.includes(current)) return;
      ordered.push(current);
      current.dependencies.forEach(visit);
    };
    visit(file);
    return create(v1.ServerReflectionResponseSchema, {
      ...base,
      messageResponse: {
        case: "fileDescriptorResponse",
        value: { fileDescriptorProto: ordered.map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) },
      },
    });
  }

  private notFound(base: Echo, what: string): Response {
    return create(v1.ServerReflectionResponseSchema, {
      ...base,
      messageResponse: {
        case: "errorResponse",
        value: { errorCode: Code.NotFound, errorMessage: `${what} not found` },
      },
    });
  }
}

export class ReflectionV1Impl implements ServiceImpl<typeof v1.ServerReflection> {
  constructor(private readonly reflector: Reflector) {}

  async *serverReflectionInfo(requests: AsyncIterable<Request>): AsyncIterable<Response> {
    for await (const request of requests) yield this.reflector.answer(request);
  }
}

export class ReflectionV1AlphaImpl implements ServiceImpl<typeof v1alpha.ServerReflection> {
  constructor(private readonly reflector: Reflector) {}

  async *serverReflectionInfo(
    requests: AsyncIterable<MessageShape<typeof v1alpha.ServerReflectionRequestSchema>>,
  ): AsyncIterable<MessageShape<typeof v1alpha.ServerReflectionResponseSchema>> {
    for await (const request of requests) {
      const asV1 = fromBinary(
        v1.ServerReflectionRequestSchema,
        toBinary(v1alpha.ServerReflectionRequestSchema, request),
      );
      const answer = this.reflector.answer(asV1);
      yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, answer));
    }
  }
}
