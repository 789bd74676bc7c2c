import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { describeAdapter, DeviceLostError, f16SelfTest, requestGpu } from "../lib/gpu/context.ts";
import { HAS_GPU, sharedGpu } from "./_helpers.ts";

Deno.test({
  name: "requestGpu() reports the adapter in one line and enables the features it has",
  ignore: !HAS_GPU,
  fn: async () => {
    const gpu = (await sharedGpu())!;
    const line = describeAdapter(gpu.summary);
    assert(!line.includes("\n"));
    assert(line.startsWith(gpu.summary.name));
    assertEquals(gpu.device.features.has("shader-f16"), gpu.adapter.features.has("shader-f16"));
    assertEquals(gpu.summary.timestampQuery, gpu.adapter.features.has("timestamp-query"));
    console.log(`adapter: ${line}`);
  },
});

Deno.test({
  name: "f16SelfTest() passes on an adapter with shader-f16",
  ignore: !HAS_GPU || !(await sharedGpu())!.device.features.has("shader-f16"),
  fn: async () => {
    const gpu = (await sharedGpu())!;
    assertEquals(await f16SelfTest(gpu.device), null);
    assert(gpu.summary.f16, "summary should report f16 after a passing self-test");
  },
});

Deno.test({
  name: "a lost device is noticed and assertAlive() then throws DeviceLostError",
  ignore: !HAS_GPU,
  fn: async () => {
    const gpu = (await requestGpu())!;
    gpu.destroy();
    await gpu.device.lost;
    await Promise.resolve();
    assert(gpu.lost !== null);
    let threw = false;
    try {
      gpu.assertAlive();
    } catch (err) {
      threw = err instanceof DeviceLostError && /destroyed/.test(err.message);
    }
    assert(threw);
  },
});

Deno.test("describeAdapter() names fallback and missing f16 with the reason", () => {
  assertEquals(
    describeAdapter({
      name: "X",
      fallback: true,
      f16: false,
      f16Reason: "adapter lacks shader-f16",
      timestampQuery: false,
    }),
    "X · fallback adapter · f16 no (adapter lacks shader-f16) · timestamps no",
  );
});
