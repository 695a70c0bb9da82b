/**
 * What the mock infra offers, in one table: the outputs ConfigMap key, the environment variable a
 * suite (Job or host runner) gets it as, the value the host runner gets instead, and whether it is
 * a secret. The outputs ConfigMap and its Secret (infra/mock/index.ts), the suite Job's and the host
 * runner's environment (infra/suite.ts, infra/index.ts), the keys `services[].envFromOutputs` may
 * name (infra/config) and docs/config.md are all derived from it.
 */

/** Name of the outputs ConfigMap (the replaced system's `outputs-infrastructure`). */
export const OUTPUTS_CONFIGMAP = "outputs-infrastructure";
/** The Secret beside it, holding the secret entries. */
export const OUTPUTS_SECRET = `${OUTPUTS_CONFIGMAP}-secrets`;

export interface ContractEntry {
  /** Key in the outputs ConfigMap (or, when secret, in its Secret). */
  key: string;
  /** Environment variable of the suite (and what services usually call it). */
  env: string;
  /**
   * Key whose value the host runner gets instead (an endpoint published on the host), or undefined:
   * the same value as in the cluster (names and in-cluster addresses the tests hand to a service).
   */
  hostKey?: string;
  /** Kept in the Secret, referenced with secretKeyRef; never in the ConfigMap. */
  secret: boolean;
  /** The mock it comes from (present only when that mock is enabled). */
  from: "kafka" | "s3" | "zookeeper" | "dataServer" | "crds";
  description: string;
}

export const MOCK_CONTRACT: readonly ContractEntry[] = [
  {
    key: "kafka_bootstrap_servers",
    env: "KAFKA_BOOTSTRAP_SERVERS",
    hostKey: "kafka_bootstrap_servers_external",
    secret: false,
    from: "kafka",
    description: "Kafka bootstrap servers (`host:port`)",
  },
  {
    key: "kafka_topics",
    env: "KAFKA_TOPICS",
    secret: false,
    from: "kafka",
    description: "the topics created at start, comma-separated",
  },
  {
    key: "s3_endpoint",
    env: "S3_ENDPOINT",
    hostKey: "s3_endpoint_external",
    secret: false,
    from: "s3",
    description: "S3 API URL (path-style addressing)",
  },
  {
    key: "s3_region",
    env: "S3_REGION",
    secret: false,
    from: "s3",
    description: "the region S3 clients sign for (the gateway's default)",
  },
  {
    key: "s3_buckets",
    env: "S3_BUCKETS",
    secret: false,
    from: "s3",
    description: "the buckets created at start, comma-separated",
  },
  {
    key: "s3_access_key",
    env: "S3_ACCESS_KEY",
    secret: false,
    from: "s3",
    description: "access key of the S3 root user",
  },
  {
    key: "s3_secret_key",
    env: "S3_SECRET_KEY",
    secret: true,
    from: "s3",
    description: "secret key of the S3 root user (`inception:s3SecretKey`)",
  },
  {
    key: "data_server_url",
    env: "DATA_SERVER_URL",
    secret: false,
    from: "dataServer",
    description: "base URL of the HTTP data server (in-cluster: for the services to fetch from)",
  },
  {
    key: "data_server_files",
    env: "DATA_SERVER_FILES",
    secret: false,
    from: "dataServer",
    description: "the files it serves, comma-separated",
  },
  {
    key: "zookeeper_connect",
    env: "ZOOKEEPER_CONNECT",
    secret: false,
    from: "zookeeper",
    description: "ZooKeeper connect string (in-cluster)",
  },
  {
    key: "crds",
    env: "CRDS",
    secret: false,
    from: "crds",
    description: "names of the installed CustomResourceDefinitions, comma-separated",
  },
];

/** The host-side keys, present on a cluster whose NodePorts reach the host (kind). */
export const HOST_KEYS: readonly string[] = MOCK_CONTRACT.flatMap((e) => (e.hostKey ? [e.hostKey] : []));

/** Every key a service may take with `envFromOutputs`. */
export const OUTPUT_KEYS: readonly string[] = [...MOCK_CONTRACT.map((e) => e.key), ...HOST_KEYS];

/** Every environment variable the contract gives a suite (a suite's own `env` may not override them). */
export const CONTRACT_ENV: readonly string[] = MOCK_CONTRACT.map((e) => e.env);

/** The mock infra's values by outputs key (the host keys included, when published). */
export type MockEndpoints = Partial<Record<string, string>>;

/**
 * The host runner's environment: every entry of the contract, the host-side value where there is
 * one. The secret entries come from `secrets` (by key), not from the ConfigMap's values.
 */
export function hostEnvironment(
  endpoints: MockEndpoints,
  secrets: Partial<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of MOCK_CONTRACT) {
    const v = e.secret ? secrets[e.key] : (endpoints[e.hostKey ?? ""] ?? endpoints[e.key]);
    if (v !== undefined) env[e.env] = v;
  }
  return env;
}

/**
 * The suite Job's environment from the contract: ConfigMap entries by configMapKeyRef, secret
 * entries by secretKeyRef; optional, since a disabled mock has no keys.
 */
export function podEnvironment<N>(configMap: N): {
  name: string;
  valueFrom:
    | { secretKeyRef: { name: string; key: string; optional: boolean } }
    | { configMapKeyRef: { name: N; key: string; optional: boolean } };
}[] {
  return MOCK_CONTRACT.map((e) => ({
    name: e.env,
    valueFrom: e.secret
      ? { secretKeyRef: { name: OUTPUTS_SECRET, key: e.key, optional: true } }
      : { configMapKeyRef: { name: configMap, key: e.key, optional: true } },
  }));
}
