/**
 * The inception stack: wires the components for the stack's stage and returns its outputs.
 * Config is validated first (infra/config), then checked against the world (infra/preflight), so
 * bad input stops the program before any resource. The program is an async function, which Pulumi
 * awaits: the preflight asks the API server of an existing cluster for its version.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { PROFILES, configFromPulumi, mockPortMappings } from "./config";
import { Cluster, ExistingCluster, KindCluster, hash } from "./cluster";
import { hostEnvironment } from "./contract";
import { imageCacheContainerdPatch, imageCacheRegistry } from "./imagecache";
import { MockInfra, servicesAffinity } from "./mock";
import { OWNER_LABEL, ownerLabelValue } from "./ownership";
import { preflight } from "./preflight";
import { PublishTarget, PublishedImage } from "./publish";
import { POD_SECURITY_LABELS } from "./security";
import { ServiceUnderTest } from "./service";
import { SuiteImage, SuiteRun, failUpdateWhenRed, newRunId } from "./suite";

export = async () => {
  const config = configFromPulumi();
  const world = await preflight(config, { dryRun: pulumi.runtime.isDryRun() });
  const inception = new pulumi.Config("inception");
  const profile = PROFILES[config.profile];
  const affinity = servicesAffinity(profile.servicesNode);

  // Secrets are read with Pulumi's secret getters, so they reach the state only encrypted.
  const s3SecretKey = inception.getSecret("s3SecretKey") ?? pulumi.secret(config.s3SecretKey);
  const registryPassword =
    config.images.password !== undefined
      ? inception.requireSecretObject<{ password: string }>("images").apply((i) => i.password)
      : undefined;
  // A value set with `--secret --path` under services makes the whole key a secret: its env too.
  const secretServices = config.secretKeys.includes("services");
  const secretSuite = config.secretKeys.includes("suite");
  const secretValues = (env: Record<string, string>) =>
    Object.fromEntries(Object.entries(env).map(([k, v]) => [k, pulumi.secret(v)]));
  // Variables whose literal values the hook blanks in the artifacts' describe dumps: the secret
  // ones (delivered by secretKeyRef, so normally absent anyway) and every literal one of a key
  // Pulumi holds as a secret.
  const redactEnv = [
    ...new Set([
      ...config.services.flatMap((s) => [
        ...Object.keys(s.secretEnv),
        ...(secretServices ? Object.keys(s.env) : []),
      ]),
      ...Object.keys(config.suite.secretEnv),
      ...(secretSuite ? Object.keys(config.suite.env) : []),
    ]),
  ].sort();

  const cluster: Cluster =
    config.cluster.type === "kind"
      ? new KindCluster("cluster", {
          config: {
            ...config.cluster,
            // The mock infra's host endpoints (Kafka's external listener is advertised as
            // localhost:<hostPort>) are kind port mappings to their NodePorts.
            portMappings: [
              ...config.cluster.portMappings,
              ...mockPortMappings(config.mockInfra).map((m) => ({
                containerPort: m.containerPort,
                hostPort: m.hostPort,
                protocol: "TCP" as const,
                listenAddress: "127.0.0.1",
              })),
            ],
          },
          // Its nodes pull the stack's images from the image cache on this machine.
          containerdConfigPatches: [imageCacheContainerdPatch(config.images.cachePort)],
          // Gone, stopped or silent since the last update: recreated (see infra/cluster.ts).
          health: world.kindCluster,
        })
      : new ExistingCluster("cluster", { config: config.cluster });

  const namespace = new k8s.core.v1.Namespace(
    "namespace",
    {
      metadata: {
        name: config.namespace,
        labels: {
          "app.kubernetes.io/managed-by": "inception",
          [OWNER_LABEL]: ownerLabelValue(config.project, config.stack),
          ...POD_SECURITY_LABELS,
        },
      },
    },
    { ...cluster.objectOptions },
  );

  // Local: images are pushed to the image cache on this machine (infra/imagecache.ts), which
  // outlives the cluster; elsewhere to the stack's registry.
  const publishTo: PublishTarget =
    cluster.kindName !== undefined
      ? {
          type: "registry",
          registry: imageCacheRegistry(config.images.cachePort),
          // Not asked in a preview (null): the state's generation is kept.
          generation: world.imageCache?.generation ?? null,
        }
      : {
          type: "registry",
          registry: config.images.registry ?? "",
          ...(config.images.username !== undefined && registryPassword !== undefined
            ? { credentials: { username: config.images.username, password: registryPassword } }
            : {}),
        };

  const mockInfra = new MockInfra(
    "mock",
    {
      namespace: config.namespace,
      config: config.mockInfra,
      crds: world.crds,
      publishTo,
      imagePrefix: config.images.prefix,
      s3SecretKey,
      affinity,
      // A kind cluster is the stack's own: its NodePorts map to localhost. Elsewhere it is shared.
      exposeOnHost: cluster.kindName !== undefined,
      sharedCluster: cluster.kindName === undefined,
    },
    { ...cluster.objectOptions, dependsOn: [namespace] },
  );

  // The services under test, each once the mock infra is Ready (they read the outputs ConfigMap).
  const servicesUnderTest = config.services.map(
    (svc) =>
      new ServiceUnderTest(
        `service-${svc.name}`,
        {
          namespace: config.namespace,
          publishTo,
          name: svc.name,
          ...(svc.image !== undefined
            ? { image: svc.image }
            : { context: path.resolve(config.projectRoot, svc.context ?? ".") }),
          imagePrefix: config.images.prefix,
          replicas: svc.replicas,
          ...(Object.keys(svc.nodeSelector).length > 0 ? { nodeSelector: svc.nodeSelector } : { affinity }),
          outputsConfigMap: mockInfra.outputsConfigMap,
          configMapEnv: svc.envFromOutputs,
          env: secretServices ? secretValues(svc.env) : svc.env,
          secretEnv: secretValues(svc.secretEnv),
          rules: svc.rules,
          healthPort: svc.healthPort,
          readinessPath: svc.readinessPath ?? null,
          livenessPath: svc.livenessPath ?? null,
          // With a suite, a failed build is the run's to report (could-not-start), not a resource's.
          imageFailureAsData: config.suite.enabled,
          readyTimeoutSeconds: svc.readyTimeoutSeconds,
        },
        { ...cluster.objectOptions, dependsOn: [namespace] },
      ),
  );

  let suite: SuiteRun | undefined;
  let verdict: pulumi.Output<unknown> | undefined;
  if (config.suite.enabled) {
    const suiteConfig = { ...config.suite, ...world.suitePaths };
    const suiteImage =
      suiteConfig.runner === "job"
        ? new SuiteImage(
            "suite-image",
            {
              config: suiteConfig,
              projectRoot: config.projectRoot,
              stack: config.stack,
              target: publishTo,
              prefix: config.images.prefix,
            },
            // Not an object of the cluster: built and pushed while kind creates it (the cluster's
            // provider would make it wait, see ServiceUnderTest).
          )
        : undefined;
    // "always": a new run per `up`; "onChange": the run id follows the suite's inputs.
    const runId =
      suiteConfig.rerun === "always"
        ? newRunId()
        : `c-${hash(
            JSON.stringify([
              suiteConfig,
              config.services,
              servicesUnderTest.map((s) => s.contentHash),
              suiteImage?.contentHash ?? "host",
            ]),
          )}`;
    // The host runner has no suite image: the Jobs its tests start run the Node runtime image.
    const hostJobImage =
      suiteConfig.runner === "host"
        ? new PublishedImage(
            "job-image",
            {
              name: "node",
              image: "inception/node:24",
              target: publishTo,
              prefix: config.images.prefix,
              failureAsData: true,
            },
            // Not an object of the cluster, like the suite image.
          )
        : undefined;
    // What the run needs and could not get: the run says so (could-not-start) instead of the
    // update failing at the image, before any run folder or output (see infra/publish.ts).
    const notPublished = pulumi
      .all([
        ...servicesUnderTest.map((s, i) =>
          s.imageFailure.apply((f) => f && { what: `the image of service ${config.services[i].name}`, ...f }),
        ),
        suiteImage?.failure.apply((f) => f && { what: "the suite image", ...f }),
        hostJobImage?.failure.apply((f) => f && { what: "the image of the suite's Jobs", ...f }),
      ])
      .apply((all) => all.filter((f) => f !== undefined));
    suite = new SuiteRun(
      "suite",
      {
        namespace: config.namespace,
        config: suiteConfig,
        stack: config.stack,
        stage: config.stage,
        runId,
        image: suiteImage?.ref ?? "",
        suiteDir: suiteImage?.suiteDir ?? path.join(config.projectRoot, suiteConfig.dir),
        outputsConfigMap: mockInfra.outputsConfigMap,
        kubeconfig: cluster.kubeconfig,
        context: cluster.context,
        services: config.services.map((svc) => ({
          name: svc.name,
          podSelector: `app.kubernetes.io/name=${svc.name}`,
          spawnedSelector: svc.spawnedSelector,
          readyTimeoutSeconds: svc.readyTimeoutSeconds,
        })),
        mockInfra: mockInfra.workloads,
        // Components: waiting for one waits for all its children: the mocks Ready, the services'
        // Deployments applied (the hook waits for them to be Ready).
        after: [...servicesUnderTest, mockInfra],
        projectRoot: config.projectRoot,
        secretEnv: secretValues(suiteConfig.secretEnv),
        redactEnv,
        envIsSecret: secretSuite,
        hostEnv: pulumi
          .all([mockInfra.endpoints, hostJobImage?.ref ?? "", s3SecretKey])
          .apply(([endpoints, jobImage, key]) => ({
            ...hostEnvironment(endpoints, config.mockInfra.s3.enabled ? { s3_secret_key: key } : {}),
            JOB_IMAGE: jobImage,
          })),
        notPublished,
      },
      { ...cluster.objectOptions, dependsOn: [namespace] },
    );
    // A red run fails the update once its outputs are recorded (with failOnTestFailure off, only
    // a run that could not start or whose service was never Ready).
    verdict = failUpdateWhenRed(suite, suiteConfig.failOnTestFailure);
  }

  return {
    stage: config.stage,
    kubeconfig: cluster.kubeconfig,
    kubeContext: cluster.context,
    kindCluster: cluster.kindName,
    namespaceName: namespace.metadata.name,
    mockEndpoints: mockInfra.endpoints,
    outputsConfigMap: mockInfra.outputsConfigMap,
    services: config.services.map((s) => s.name),
    tests: suite?.tests,
    verdict,
    runId: suite?.runId,
    artifactsDir: suite?.artifactsDir,
    report: suite?.report,
  };
};
