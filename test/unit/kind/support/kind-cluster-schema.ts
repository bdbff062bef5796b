/**
 * kind's v1alpha4 Cluster config has no published JSON schema. This one is written from the Go
 * types at kind v0.32.0 (pkg/apis/config/v1alpha4/types.go) for the fields speedlayer renders,
 * strict about unknown fields (kind rejects them too: it decodes strictly).
 */
export const kindClusterSchema = {
  type: 'object',
  required: ['kind', 'apiVersion', 'nodes'],
  additionalProperties: false,
  properties: {
    kind: { const: 'Cluster' },
    apiVersion: { const: 'kind.x-k8s.io/v1alpha4' },
    name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
    nodes: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role'],
        additionalProperties: false,
        properties: {
          role: { enum: ['control-plane', 'worker'] },
          image: { type: 'string', pattern: '^kindest/node:v[0-9.]+@sha256:[0-9a-f]{64}$' },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          extraPortMappings: {
            type: 'array',
            items: {
              type: 'object',
              required: ['containerPort', 'hostPort'],
              additionalProperties: false,
              properties: {
                containerPort: { type: 'integer', minimum: 1, maximum: 65535 },
                hostPort: { type: 'integer', minimum: 1, maximum: 65535 },
                listenAddress: { type: 'string', format: 'ipv4' },
                protocol: { enum: ['TCP', 'UDP', 'SCTP'] },
              },
            },
          },
        },
      },
    },
  },
} as const;
