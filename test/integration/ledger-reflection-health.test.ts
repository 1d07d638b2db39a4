/**
 * Server reflection (v1 and v1alpha, as grpcurl and ghz ask for them) and gRPC health, over
 * the reflection stream of an independent gRPC client.
 */
import { expect } from "chai";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
  type HealthCheckResponse,
} from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1Alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { GrpcCallError } from "../support/grpc-client.js";
import { GrpcTestClient, grpc } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";

for (const store of STORE_KINDS)
  describe(`reflection and health, on ${store}`, () => {
    let server: TestApp;
    let client: GrpcTestClient;

    beforeEach(async () => {
      server = await startApp({}, store);
      client = new GrpcTestClient(server.address);
    });

    afterEach(async () => {
      client.close();
      await server.stop();
    });

    for (const [version, service] of [
      ["v1", ReflectionV1],
      ["v1alpha", ReflectionV1Alpha],
    ] as const) {
      // Both versions are the same on the wire, so one decoder reads both; the path (from the
      // method's service) decides which endpoint answers.
      const method = service.method.serverReflectionInfo as typeof ReflectionV1.method.serverReflectionInfo;
      describe(`reflection ${version}`, () => {
        it("lists the services", async () => {
          const [answer] = await client.bidi(method, [{ messageRequest: { case: "listServices", value: "" } }]);
          expect(answer?.messageResponse.case).to.equal("listServicesResponse");
          const names =
            answer?.messageResponse.case === "listServicesResponse"
              ? answer.messageResponse.value.service.map((entry) => entry.name)
              : [];
          expect(names).to.include.members([
            "ledger.v1.LedgerService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
          ]);
        });

        it("resolves LedgerService, its methods and its imports to file descriptors", async () => {
          const answers = await client.bidi(method, [
            { messageRequest: { case: "fileContainingSymbol", value: "ledger.v1.LedgerService" } },
            { messageRequest: { case: "fileContainingSymbol", value: "ledger.v1.LedgerService.AdjustBalance" } },
            { messageRequest: { case: "fileByFilename", value: "google/protobuf/timestamp.proto" } },
          ]);
          expect(answers).to.have.length(3);
          for (const answer of answers) {
            expect(answer.messageResponse.case).to.equal("fileDescriptorResponse");
          }
          const first = answers[0]?.messageResponse;
          const files =
            first?.case === "fileDescriptorResponse"
              ? first.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes))
              : [];
          // The file and every file it imports, transitively (the google.api.http annotations too),
          // so that grpcurl can resolve each option and type without the .proto files.
          expect(files.map((file) => file.name)).to.deep.equal([
            "ledger/v1/ledger.proto",
            "google/api/annotations.proto",
            "google/api/http.proto",
            "google/protobuf/descriptor.proto",
            "google/protobuf/timestamp.proto",
          ]);
          const ledger = files[0];
          expect(ledger?.service[0]?.method.map((method) => method.name)).to.deep.equal([
            "Load",
            "Authorize",
            "AdjustBalance",
            "Transfer",
            "SetAccountPolicy",
            "GetBalance",
            "GetPayouts",
            "ListEntries",
            "GetEntry",
            "Capture",
            "Void",
            "StreamEntries",
            "ApplyBatch",
          ]);
        });

        it("answers NOT_FOUND inside the stream for an unknown symbol or file", async () => {
          const answers = await client.bidi(method, [
            { messageRequest: { case: "fileContainingSymbol", value: "nope.Nope" } },
            { messageRequest: { case: "fileByFilename", value: "nope.proto" } },
          ]);
          for (const answer of answers) {
            expect(answer.messageResponse.case).to.equal("errorResponse");
            if (answer.messageResponse.case === "errorResponse") {
              expect(answer.messageResponse.value.errorCode).to.equal(grpc.status.NOT_FOUND);
            }
          }
        });
      });
    }

    describe("health", () => {
      it("reports SERVING for the server and for LedgerService", async () => {
        for (const name of ["", "ledger.v1.LedgerService"]) {
          const response = await client.unary(Health.method.check, { service: name });
          expect(response.status).to.equal(ServingStatus.SERVING);
        }
      });

      it("answers NOT_FOUND for an unknown service", async () => {
        try {
          await client.unary(Health.method.check, { service: "nope.Service" });
          expect.fail("expected NOT_FOUND");
        } catch (error) {
          expect((error as GrpcCallError).code).to.equal(grpc.status.NOT_FOUND);
        }
      });

      it("lists every service's status", async () => {
        const response = await client.unary(Health.method.list, {});
        expect(response.statuses["ledger.v1.LedgerService"]?.status).to.equal(ServingStatus.SERVING);
      });

      it("streams SERVING, then NOT_SERVING when the server shuts down", async () => {
        const call = client.raw.makeServerStreamRequest(
          `/${Health.typeName}/Watch`,
          () => Buffer.from([]),
          (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
          {},
        );
        const statuses: number[] = [];
        const ended = new Promise<void>((resolve) => {
          call.on("data", (response: HealthCheckResponse) => statuses.push(response.status));
          call.on("error", () => resolve());
          call.on("end", () => resolve());
        });
        while (statuses.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
        server.app.health.setAll(ServingStatus.NOT_SERVING);
        while (statuses.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
        call.cancel();
        await ended;
        expect(statuses).to.deep.equal([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
      });
    });
  });
