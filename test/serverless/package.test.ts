import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWorkbook } from '../support/workbook-reader.js';

/**
 * `serverless package --stage prod` needs no AWS account: it resolves the configuration, bundles
 * every function with esbuild and writes the CloudFormation template. These tests read what would
 * be deployed.
 */

const run = promisify(execFile);
const SERVICE_DIR = process.cwd();
const MIB = 1024 * 1024;

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
}

const FUNCTIONS = {
  getAccountActions: 'functions/get-account-actions.mjs',
  listAccountActions: 'functions/list-account-actions.mjs',
  createMatchingRun: 'functions/create-matching-run.mjs',
  listMatchingRuns: 'functions/list-matching-runs.mjs',
  getMatchingRun: 'functions/get-matching-run.mjs',
  getMatchingRunPartition: 'functions/get-matching-run-partition.mjs',
  matchingWorker: 'functions/matching-worker.mjs',
  paymentsImportedWorker: 'functions/payments-imported-worker.mjs',
  planMatchingRun: 'functions/plan-matching-run.mjs',
  matchingShard: 'functions/matching-shard.mjs',
  mergeMatchingRun: 'functions/merge-matching-run.mjs',
  failMatchingRun: 'functions/fail-matching-run.mjs',
} as const;
type FunctionKey = keyof typeof FUNCTIONS;

/** exceljs' workbook writer, built beside the bundles that import it (serverless/esbuild-plugins.cjs). */
const WORKBOOK_WRITER = 'functions/exceljs-workbook-writer.mjs';
const WORKERS = ['matchingWorker', 'paymentsImportedWorker'] as const;
/** The steps of a sharded run, invoked by the state machine. */
const STEPS = ['planMatchingRun', 'matchingShard', 'mergeMatchingRun', 'failMatchingRun'] as const;
const STATE_MACHINE = 'MatchingRunStateMachine';
/** The state machine's ARN as the template builds it (`Fn::Sub`; see cfn below for the `#{…}`). */
const STATE_MACHINE_ARN =
  'arn:#{AWS::Partition}:states:#{AWS::Region}:#{AWS::AccountId}:stateMachine:zhkh-billing-prod-matchingRun'.replaceAll(
    '#{',
    '$' + '{',
  );

let packageDir: string;
let bundleDir: string;
let resources: Record<string, Resource>;

function logicalId(key: FunctionKey): string {
  return `${key.charAt(0).toUpperCase()}${key.slice(1)}LambdaFunction`;
}

function resource(id: string): Resource {
  const found = resources[id];
  if (!found) throw new Error(`no resource ${id} in the template`);
  return found;
}

function ofType(type: string): Array<[string, Resource]> {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

/** A CloudFormation `Fn::Sub` template, written with `#{…}` so it does not read as a JS template. */
function cfn(template: string): string {
  return template.replaceAll('#{', '$' + '{');
}

/** A readable name for a policy Resource: `RunsTable`, `ResultsBucket/matching-runs/*`, or the ARN template. */
function resourceName(value: unknown): string {
  const v = value as Json;
  if (typeof value === 'string') return value;
  if (Array.isArray(v['Fn::GetAtt'])) return String((v['Fn::GetAtt'] as string[])[0]);
  if (typeof v['Fn::Sub'] === 'string')
    return (v['Fn::Sub'] as string)
      .replace(cfn('#{ResultsBucket.Arn}'), 'ResultsBucket')
      .replace(cfn('#{RunsTable.Arn}'), 'RunsTable');
  if (v.Ref) return String(v.Ref);
  return JSON.stringify(value);
}

/** Every (action → resources) pair granted to the role of `key`. */
function grants(key: FunctionKey): Map<string, string[]> {
  const fn = resource(logicalId(key));
  const roleId = ((fn.Properties.Role as Json)['Fn::GetAtt'] as string[])[0] ?? '';
  const policies = resource(roleId).Properties.Policies as Array<{
    PolicyDocument: { Statement: Statement[] };
  }>;
  const result = new Map<string, string[]>();
  for (const statement of policies.flatMap((p) => p.PolicyDocument.Statement)) {
    expect(statement.Effect).toBe('Allow');
    const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
    const targets = (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]).map(
      resourceName,
    );
    for (const action of actions) result.set(action, [...(result.get(action) ?? []), ...targets].sort());
  }
  return result;
}

beforeAll(async () => {
  packageDir = await mkdtemp(path.join(os.tmpdir(), 'sls-package-'));
  await run(
    process.execPath,
    [
      'node_modules/osls/bin/serverless.js',
      'package',
      '--stage',
      'prod',
      '--param=jwtIssuer=https://login.example.com/',
      '--param=jwtAudience=zhkh-billing-api',
      '--package',
      packageDir,
    ],
    {
      cwd: SERVICE_DIR,
      env: {
        ...process.env,
        SLS_TELEMETRY_DISABLED: '1',
        AWS_ACCESS_KEY_ID: 'package-test',
        AWS_SECRET_ACCESS_KEY: 'package-test',
        ESBUILD_WORK_FOLDER: `.esbuild/package-${process.pid}`,
      },
      timeout: 110_000,
    },
  );
  const template = JSON.parse(
    await readFile(path.join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as { Resources: Record<string, Resource> };
  resources = template.Resources;
}, 120_000);

afterAll(async () => {
  if (packageDir) await rm(packageDir, { recursive: true, force: true });
  if (bundleDir) await rm(bundleDir, { recursive: true, force: true });
});

describe('functions', () => {
  it.each(Object.keys(FUNCTIONS) as FunctionKey[])(
    '%s runs on nodejs22.x, arm64, with its own role',
    (key) => {
      const { Properties } = resource(logicalId(key));
      expect(Properties.Runtime).toBe('nodejs22.x');
      expect(Properties.Architectures).toEqual(['arm64']);
      expect(Properties.Role).toEqual({
        'Fn::GetAtt': [`${key.charAt(0).toUpperCase()}${key.slice(1)}Role`, 'Arn'],
      });
      const env = (Properties.Environment as { Variables: Json }).Variables;
      expect(env.MONGODB_URI_PARAMETER).toBe('/zhkh-billing/prod/mongodb-uri');
      expect(env).not.toHaveProperty('MONGODB_URI');
      expect(env.RESULTS_BUCKET).toEqual({ Ref: 'ResultsBucket' });
    },
  );

  it('gives HTTP functions 10 s and both workers 900 s with 3008 MB and 2 GB of /tmp', () => {
    expect(resource(logicalId('getAccountActions')).Properties.Timeout).toBe(10);
    for (const key of ['matchingWorker', 'paymentsImportedWorker'] as const) {
      expect(resource(logicalId(key)).Properties, key).toMatchObject({
        Timeout: 900,
        MemorySize: 3008,
        EphemeralStorage: { Size: 2048 },
      });
    }
  });

  it.each(['matchingWorker', 'paymentsImportedWorker'] as const)(
    '%s retries a failed asynchronous invocation twice, then sends it to the dead-letter queue',
    (key) => {
      const configs = ofType('AWS::Lambda::EventInvokeConfig').filter(
        ([, r]) => JSON.stringify(r.Properties.FunctionName) === JSON.stringify({ Ref: logicalId(key) }),
      );
      expect(configs).toHaveLength(1);
      expect(configs[0]?.[1].Properties).toMatchObject({
        MaximumRetryAttempts: 2,
        MaximumEventAgeInSeconds: 3600,
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': ['MatchingWorkerDeadLetterQueue', 'Arn'] } },
        },
      });
    },
  );

  it("gives the shard step the workers' sizing, the plan and merge 1024 MB, and no step Lambda retries", () => {
    expect(resource(logicalId('matchingShard')).Properties).toMatchObject({
      Timeout: 900,
      MemorySize: 3008,
      EphemeralStorage: { Size: 2048 },
    });
    expect(resource(logicalId('planMatchingRun')).Properties).toMatchObject({
      Timeout: 300,
      MemorySize: 1024,
    });
    expect(resource(logicalId('mergeMatchingRun')).Properties).toMatchObject({
      Timeout: 900,
      MemorySize: 1024,
    });
    expect(resource(logicalId('failMatchingRun')).Properties).toMatchObject({ Timeout: 60, MemorySize: 512 });
    // Invoked synchronously by the state machine, whose Retry and Catch handle failures.
    for (const key of STEPS) {
      const configs = ofType('AWS::Lambda::EventInvokeConfig').filter(
        ([, r]) => JSON.stringify(r.Properties.FunctionName) === JSON.stringify({ Ref: logicalId(key) }),
      );
      expect(configs, key).toEqual([]);
    }
  });

  it('tells every function the state machine of sharded runs by its ARN', () => {
    for (const key of Object.keys(FUNCTIONS) as FunctionKey[]) {
      const env = (resource(logicalId(key)).Properties.Environment as { Variables: Json }).Variables;
      expect(env.MATCHING_STATE_MACHINE_ARN, key).toEqual({ 'Fn::Sub': STATE_MACHINE_ARN });
    }
  });

  it('creates no shared default execution role', () => {
    expect(resources).not.toHaveProperty('IamRoleLambdaExecution');
    // One per function, and the state machine's.
    expect(ofType('AWS::IAM::Role')).toHaveLength(13);
  });
});

describe('data resources', () => {
  it('keeps the run ledger on demand, keyed by runId, with point-in-time recovery', () => {
    expect(resource('RunsTable').Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'runId', KeyType: 'HASH' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('lists runs from one index on (status, listKey) that projects the whole run', () => {
    const { AttributeDefinitions, GlobalSecondaryIndexes } = resource('RunsTable').Properties;
    expect(GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'byStatus',
        KeySchema: [
          { AttributeName: 'status', KeyType: 'HASH' },
          { AttributeName: 'listKey', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ]);
    expect(AttributeDefinitions).toEqual([
      { AttributeName: 'runId', AttributeType: 'S' },
      { AttributeName: 'status', AttributeType: 'S' },
      { AttributeName: 'listKey', AttributeType: 'S' },
    ]);
  });

  it('expires idempotency records with a TTL on `expiration`', () => {
    expect(resource('IdempotencyTable').Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    });
  });

  it('blocks every kind of public access to the results bucket and enforces bucket-owner ownership', () => {
    expect(resource('ResultsBucket').Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('encrypts the results bucket by default', () => {
    const encryption = resource('ResultsBucket').Properties.BucketEncryption as {
      ServerSideEncryptionConfiguration: Array<{ ServerSideEncryptionByDefault: { SSEAlgorithm: string } }>;
    };
    expect(['AES256', 'aws:kms']).toContain(
      encryption.ServerSideEncryptionConfiguration[0]?.ServerSideEncryptionByDefault.SSEAlgorithm,
    );
  });

  it('expires run outputs and aborts incomplete multipart uploads', () => {
    const { Rules } = resource('ResultsBucket').Properties.LifecycleConfiguration as { Rules: Json[] };
    expect(Rules).toContainEqual(
      expect.objectContaining({ Status: 'Enabled', Prefix: 'matching-runs/', ExpirationInDays: 90 }),
    );
    expect(Rules).toContainEqual(
      expect.objectContaining({
        Status: 'Enabled',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      }),
    );
  });

  it('denies every request to the results bucket that is not over TLS', () => {
    const policy = resource('ResultsBucketPolicy').Properties.PolicyDocument as { Statement: Statement[] };
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    expect(policy.Statement.every((s) => s.Effect === 'Deny')).toBe(true);
  });
});

describe('PaymentsImported trigger', () => {
  it('routes billing.payments PaymentsImported events on the default bus to paymentsImportedWorker, with retries and a DLQ', () => {
    const rule = resource('PaymentsImportedRule').Properties;
    expect(rule.EventPattern).toEqual({ source: ['billing.payments'], 'detail-type': ['PaymentsImported'] });
    expect(rule.EventBusName).toBe('default');
    const [target] = rule.Targets as Json[];
    expect(target).toMatchObject({
      Arn: { 'Fn::GetAtt': ['PaymentsImportedWorkerLambdaFunction', 'Arn'] },
      RetryPolicy: { MaximumRetryAttempts: expect.any(Number) },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['MatchingWorkerDeadLetterQueue', 'Arn'] } },
    });
  });

  it('lets only that rule invoke paymentsImportedWorker', () => {
    const permission = resource('PaymentsImportedInvokePermission').Properties;
    expect(permission).toMatchObject({
      FunctionName: { 'Fn::GetAtt': ['PaymentsImportedWorkerLambdaFunction', 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': ['PaymentsImportedRule', 'Arn'] },
    });
  });
});

describe('least-privilege IAM, one role per function', () => {
  const ownLogs = (key: FunctionKey) => [
    cfn(
      `arn:#{AWS::Partition}:logs:#{AWS::Region}:#{AWS::AccountId}:log-group:/aws/lambda/zhkh-billing-prod-${key}:*`,
    ),
  ];
  const mongoUri = [
    cfn('arn:#{AWS::Partition}:ssm:#{AWS::Region}:#{AWS::AccountId}:parameter/zhkh-billing/prod/mongodb-uri'),
  ];
  const kmsKeys = [cfn('arn:#{AWS::Partition}:kms:#{AWS::Region}:#{AWS::AccountId}:key/*')];

  it.each<[FunctionKey, Record<string, string[]>]>([
    [
      'getAccountActions',
      {
        'logs:CreateLogStream': ownLogs('getAccountActions'),
        'logs:PutLogEvents': ownLogs('getAccountActions'),
        'ssm:GetParameter': mongoUri,
        'kms:Decrypt': kmsKeys,
      },
    ],
    [
      'listAccountActions',
      {
        'logs:CreateLogStream': ownLogs('listAccountActions'),
        'logs:PutLogEvents': ownLogs('listAccountActions'),
        'ssm:GetParameter': mongoUri,
        'kms:Decrypt': kmsKeys,
      },
    ],
    [
      'createMatchingRun',
      {
        'logs:CreateLogStream': ownLogs('createMatchingRun'),
        'logs:PutLogEvents': ownLogs('createMatchingRun'),
        'dynamodb:PutItem': ['RunsTable'],
        'dynamodb:GetItem': ['RunsTable'],
        'dynamodb:UpdateItem': ['RunsTable'],
        'lambda:InvokeFunction': ['MatchingWorkerLambdaFunction'],
        'states:StartExecution': [STATE_MACHINE_ARN],
      },
    ],
    [
      'listMatchingRuns',
      {
        'logs:CreateLogStream': ownLogs('listMatchingRuns'),
        'logs:PutLogEvents': ownLogs('listMatchingRuns'),
        'dynamodb:Query': ['RunsTable/index/byStatus'],
      },
    ],
    [
      'getMatchingRun',
      {
        'logs:CreateLogStream': ownLogs('getMatchingRun'),
        'logs:PutLogEvents': ownLogs('getMatchingRun'),
        'dynamodb:GetItem': ['RunsTable'],
        's3:GetObject': ['ResultsBucket/matching-runs/*'],
      },
    ],
    [
      'getMatchingRunPartition',
      {
        'logs:CreateLogStream': ownLogs('getMatchingRunPartition'),
        'logs:PutLogEvents': ownLogs('getMatchingRunPartition'),
        'dynamodb:GetItem': ['RunsTable'],
        's3:GetObject': [
          'ResultsBucket/matching-runs/*/partition-index.jsonl',
          'ResultsBucket/matching-runs/*/partitions.jsonl',
        ],
      },
    ],
    [
      'matchingWorker',
      {
        'logs:CreateLogStream': ownLogs('matchingWorker'),
        'logs:PutLogEvents': ownLogs('matchingWorker'),
        'dynamodb:GetItem': ['RunsTable'],
        'dynamodb:PutItem': ['RunsTable'],
        'dynamodb:UpdateItem': ['RunsTable'],
        's3:PutObject': ['ResultsBucket/matching-runs/*'],
        's3:AbortMultipartUpload': ['ResultsBucket/matching-runs/*'],
        's3:DeleteObject': ['ResultsBucket/matching-runs/*'],
        'sqs:SendMessage': ['MatchingWorkerDeadLetterQueue'],
        'ssm:GetParameter': mongoUri,
        'kms:Decrypt': kmsKeys,
      },
    ],
    [
      'paymentsImportedWorker',
      {
        'logs:CreateLogStream': ownLogs('paymentsImportedWorker'),
        'logs:PutLogEvents': ownLogs('paymentsImportedWorker'),
        'dynamodb:GetItem': ['IdempotencyTable', 'RunsTable'],
        'dynamodb:PutItem': ['IdempotencyTable', 'RunsTable'],
        'dynamodb:UpdateItem': ['IdempotencyTable', 'RunsTable'],
        'dynamodb:DeleteItem': ['IdempotencyTable'],
        's3:PutObject': ['ResultsBucket/matching-runs/*'],
        's3:AbortMultipartUpload': ['ResultsBucket/matching-runs/*'],
        's3:DeleteObject': ['ResultsBucket/matching-runs/*'],
        'sqs:SendMessage': ['MatchingWorkerDeadLetterQueue'],
        'states:StartExecution': [STATE_MACHINE_ARN],
        'ssm:GetParameter': mongoUri,
        'kms:Decrypt': kmsKeys,
      },
    ],
    [
      'planMatchingRun',
      {
        'logs:CreateLogStream': ownLogs('planMatchingRun'),
        'logs:PutLogEvents': ownLogs('planMatchingRun'),
        'dynamodb:GetItem': ['RunsTable'],
        'dynamodb:UpdateItem': ['RunsTable'],
        's3:PutObject': [
          'ResultsBucket/matching-runs/*/plan.json',
          'ResultsBucket/matching-runs/*/shard-items.json',
        ],
        'ssm:GetParameter': mongoUri,
        'kms:Decrypt': kmsKeys,
      },
    ],
    [
      'matchingShard',
      {
        'logs:CreateLogStream': ownLogs('matchingShard'),
        'logs:PutLogEvents': ownLogs('matchingShard'),
        'dynamodb:GetItem': ['RunsTable'],
        'dynamodb:UpdateItem': ['RunsTable'],
        's3:GetObject': ['ResultsBucket/matching-runs/*/plan.json', 'ResultsBucket/matching-runs/*/shards/*'],
        's3:PutObject': ['ResultsBucket/matching-runs/*/shards/*'],
        's3:AbortMultipartUpload': ['ResultsBucket/matching-runs/*/shards/*'],
        's3:DeleteObject': ['ResultsBucket/matching-runs/*/shards/*'],
        'ssm:GetParameter': mongoUri,
        'kms:Decrypt': kmsKeys,
      },
    ],
    [
      'mergeMatchingRun',
      {
        'logs:CreateLogStream': ownLogs('mergeMatchingRun'),
        'logs:PutLogEvents': ownLogs('mergeMatchingRun'),
        'dynamodb:GetItem': ['RunsTable'],
        'dynamodb:UpdateItem': ['RunsTable'],
        's3:GetObject': ['ResultsBucket/matching-runs/*'],
        's3:PutObject': ['ResultsBucket/matching-runs/*'],
        's3:AbortMultipartUpload': ['ResultsBucket/matching-runs/*'],
      },
    ],
    [
      'failMatchingRun',
      {
        'logs:CreateLogStream': ownLogs('failMatchingRun'),
        'logs:PutLogEvents': ownLogs('failMatchingRun'),
        'dynamodb:GetItem': ['RunsTable'],
        'dynamodb:UpdateItem': ['RunsTable'],
        's3:DeleteObject': ['ResultsBucket/matching-runs/*'],
      },
    ],
  ])('%s may do exactly what it uses, on exactly its resources', (key, expected) => {
    expect(Object.fromEntries(grants(key))).toEqual(expected);
  });

  it('grants no action on a bare "*" resource and no wildcard action', () => {
    for (const key of Object.keys(FUNCTIONS) as FunctionKey[]) {
      for (const [action, targets] of grants(key)) {
        expect(action, key).not.toContain('*');
        expect(targets, `${key} ${action}`).not.toContain('*');
      }
    }
  });

  it('lets KMS decrypt only through SSM, only for the MongoDB URI parameter', () => {
    const role = resource('GetAccountActionsRole').Properties.Policies as Array<{
      PolicyDocument: { Statement: Statement[] };
    }>;
    const decrypt = role[0]?.PolicyDocument.Statement.find((s) => s.Action === 'kms:Decrypt');
    expect(decrypt?.Condition).toEqual({
      StringEquals: {
        'kms:ViaService': { 'Fn::Sub': cfn('ssm.#{AWS::Region}.amazonaws.com') },
        'kms:EncryptionContext:PARAMETER_ARN': { 'Fn::Sub': mongoUri[0] },
      },
    });
  });
});

describe('state machine of sharded runs', () => {
  interface State {
    Type: string;
    Resource?: string;
    Next?: string;
    End?: boolean;
    Retry?: Array<Record<string, unknown>>;
    Catch?: Array<{ ErrorEquals: string[]; Next: string; ResultPath?: string }>;
    [field: string]: unknown;
  }
  interface Definition {
    StartAt: string;
    States: Record<string, State>;
  }

  /** The deployed definition, and the function each `${…}` Resource placeholder stands for. */
  function deployed(): { definition: Definition; functions: Record<string, string> } {
    const sub = (resource(STATE_MACHINE).Properties.DefinitionString as Json)['Fn::Sub'] as [string, Json];
    const [text, params] = sub;
    const functions = Object.fromEntries(
      Object.entries(params).map(([name, value]) => [cfn(`#{${name}}`), resourceName(value)]),
    );
    return { definition: JSON.parse(text) as Definition, functions };
  }

  const TRANSIENT = [
    'TransientError',
    'Lambda.ServiceException',
    'Lambda.AWSLambdaException',
    'Lambda.SdkClientException',
    'Lambda.TooManyRequestsException',
  ];

  it('is one STANDARD state machine, named after the stage, with its own role', () => {
    expect(ofType('AWS::StepFunctions::StateMachine').map(([id]) => id)).toEqual([STATE_MACHINE]);
    expect(resource(STATE_MACHINE).Properties).toMatchObject({
      StateMachineName: 'zhkh-billing-prod-matchingRun',
      StateMachineType: 'STANDARD',
      RoleArn: { 'Fn::GetAtt': ['MatchingStateMachineRole', 'Arn'] },
    });
  });

  it('plans, maps the shards, merges; a plan that claimed nothing ends without shards', () => {
    const { definition, functions } = deployed();
    const states = definition.States;
    expect(definition.StartAt).toBe('Plan');
    expect(Object.keys(states).sort()).toEqual([
      'Claimed',
      'FailRun',
      'Merge',
      'NotClaimed',
      'Plan',
      'RunFailed',
      'Shards',
    ]);
    const fn = (state: State | undefined) => functions[state?.Resource ?? ''];
    expect(fn(states.Plan)).toBe('PlanMatchingRunLambdaFunction');
    expect(states.Plan).toMatchObject({
      // The execution is the run's owner, so a retried Plan task may take its own claim back.
      Parameters: { 'runId.$': '$.runId', 'owner.$': '$$.Execution.Name' },
      ResultPath: '$.plan',
      Next: 'Claimed',
    });
    expect(states.Claimed).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.plan.claimed', BooleanEquals: false, Next: 'NotClaimed' }],
      Default: 'Shards',
    });
    expect(states.NotClaimed?.Type).toBe('Succeed');
    expect(fn(states.Merge)).toBe('MergeMatchingRunLambdaFunction');
    expect(states.Merge).toMatchObject({ Parameters: { 'runId.$': '$.runId' }, End: true });
    expect(fn(states.FailRun)).toBe('FailMatchingRunLambdaFunction');
    expect(states.FailRun).toMatchObject({
      Parameters: { 'runId.$': '$.runId', 'error.$': '$.error' },
      Next: 'RunFailed',
    });
    expect(states.RunFailed?.Type).toBe('Fail');
  });

  it("runs the shards as a Distributed Map over the plan's item file, failing on the first failed shard", () => {
    const { definition, functions } = deployed();
    const map = definition.States.Shards as State & { ItemProcessor: Definition & { ProcessorConfig: Json } };
    expect(map).toMatchObject({
      Type: 'Map',
      ItemReader: {
        Resource: 'arn:aws:states:::s3:getObject',
        ReaderConfig: { InputType: 'JSON' },
        Parameters: { 'Bucket.$': '$.plan.itemsBucket', 'Key.$': '$.plan.itemsKey' },
      },
      MaxConcurrencyPath: '$.maxConcurrency',
      ToleratedFailurePercentage: 0,
      ResultPath: null,
      Next: 'Merge',
    });
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    const inner = map.ItemProcessor.States;
    expect(Object.keys(inner).sort()).toEqual(['FailShard', 'Shard', 'ShardFailed']);
    expect(functions[inner.Shard?.Resource ?? '']).toBe('MatchingShardLambdaFunction');
    expect(inner.Shard).toMatchObject({ End: true, TimeoutSeconds: 930 });
    expect(inner.Shard?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'FailShard' },
    ]);
    expect(functions[inner.FailShard?.Resource ?? '']).toBe('FailMatchingRunLambdaFunction');
    expect(inner.FailShard).toMatchObject({
      Parameters: { 'runId.$': '$.runId', 'shard.$': '$.shard', 'error.$': '$.error' },
      Next: 'ShardFailed',
    });
    expect(inner.ShardFailed).toMatchObject({ Type: 'Fail', Error: 'ShardFailed' });
    expect(map.Catch).toEqual([
      { ErrorEquals: ['ShardFailed', 'States.ExceedToleratedFailureThreshold'], Next: 'RunFailed' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'FailRun' },
    ]);
  });

  it('retries every Lambda task on transient errors with backoff, and catches everything else', () => {
    const { definition } = deployed();
    const map = definition.States.Shards as State & { ItemProcessor: Definition };
    const tasks = { ...definition.States, ...map.ItemProcessor.States };
    const names = Object.keys(tasks).filter((name) => tasks[name]?.Type === 'Task');
    expect(names.sort()).toEqual(['FailRun', 'FailShard', 'Merge', 'Plan', 'Shard']);
    for (const name of names) {
      expect(tasks[name]?.Retry, name).toEqual([
        {
          ErrorEquals: TRANSIENT,
          IntervalSeconds: 2,
          BackoffRate: 2,
          MaxAttempts: 4,
          MaxDelaySeconds: 60,
          JitterStrategy: 'FULL',
        },
      ]);
      expect(tasks[name]?.TimeoutSeconds, name).toEqual(expect.any(Number));
    }
    // A failure of the steps goes to a fail step; the fail steps themselves end in a Fail state.
    for (const name of ['Plan', 'Merge']) expect(tasks[name]?.Catch?.[0]?.Next, name).toBe('FailRun');
    expect(tasks.FailRun?.Catch).toBeUndefined();
    expect(tasks.FailShard?.Catch).toBeUndefined();
  });

  it('may invoke the four step functions, run its own Distributed Map and read only the item files', () => {
    const role = resource('MatchingStateMachineRole').Properties;
    expect(role.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'states.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        },
      ],
    });
    const granted = new Map<string, string[]>();
    for (const statement of (role.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }>).flatMap(
      (p) => p.PolicyDocument.Statement,
    )) {
      expect(statement.Effect).toBe('Allow');
      const targets = [statement.Resource].flat().map(resourceName);
      for (const action of [statement.Action].flat())
        granted.set(action, [...(granted.get(action) ?? []), ...targets].sort());
    }
    const executions = cfn(
      'arn:#{AWS::Partition}:states:#{AWS::Region}:#{AWS::AccountId}:execution:zhkh-billing-prod-matchingRun/*',
    );
    expect(Object.fromEntries(granted)).toEqual({
      'lambda:InvokeFunction': [
        'FailMatchingRunLambdaFunction',
        'MatchingShardLambdaFunction',
        'MergeMatchingRunLambdaFunction',
        'PlanMatchingRunLambdaFunction',
      ],
      'states:StartExecution': [STATE_MACHINE_ARN],
      'states:DescribeExecution': [executions],
      'states:StopExecution': [executions],
      's3:GetObject': ['ResultsBucket/matching-runs/*/shard-items.json'],
    });
  });
});

describe('HTTP API', () => {
  it('protects every route with the JWT authorizer, whose issuer and audience are stage parameters', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route');
    expect(routes.map(([, r]) => r.Properties.RouteKey).sort()).toEqual([
      'GET /accounts/actions',
      'GET /accounts/{number}/actions',
      'GET /matching-runs',
      'GET /matching-runs/{runId}',
      'GET /matching-runs/{runId}/partitions/{value+}',
      'POST /matching-runs',
    ]);
    for (const [, route] of routes) {
      expect(route.Properties).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: 'HttpApiAuthorizerJwt' },
      });
    }
    expect(resource('HttpApiAuthorizerJwt').Properties).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: 'https://login.example.com/', Audience: ['zhkh-billing-api'] },
    });
  });
});

describe('security baseline', () => {
  /** Every IAM statement of every function role, with the role it belongs to. */
  function statements(): Array<{ role: string; statement: Statement }> {
    return ofType('AWS::IAM::Role').flatMap(([role, r]) =>
      ((r.Properties.Policies ?? []) as Array<{ PolicyDocument: { Statement: Statement[] } }>).flatMap((p) =>
        p.PolicyDocument.Statement.map((statement) => ({ role, statement })),
      ),
    );
  }

  it('uses a wildcard in a resource only for object keys under matching-runs/, own log streams, or KMS through SSM', () => {
    const runOutputs = /^ResultsBucket\/matching-runs\/\*(\/[a-z-]+\.[a-z]+|\/shards\/\*)?$/;
    const wildcards = statements().flatMap(({ role, statement }) =>
      (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource])
        .map(resourceName)
        .filter((name) => name.includes('*'))
        .map((name) => ({ role, name, statement })),
    );
    expect(wildcards.length).toBeGreaterThan(0);
    for (const { role, name, statement } of wildcards) {
      const actions = [statement.Action].flat();
      if (runOutputs.test(name)) {
        expect(
          actions.every((a) => a.startsWith('s3:')),
          role,
        ).toBe(true);
      } else if (name.includes(':execution:')) {
        // A Distributed Map's child executions: only those of this state machine, only watched and stopped.
        expect(name, role).toBe(
          cfn(
            'arn:#{AWS::Partition}:states:#{AWS::Region}:#{AWS::AccountId}:execution:zhkh-billing-prod-matchingRun/*',
          ),
        );
        expect(actions, role).toEqual(['states:DescribeExecution', 'states:StopExecution']);
      } else if (name.includes(':log-group:/aws/lambda/')) {
        expect(name, role).toMatch(/:log-group:\/aws\/lambda\/zhkh-billing-prod-\w+:\*$/);
        expect(
          actions.every((a) => a.startsWith('logs:')),
          role,
        ).toBe(true);
      } else {
        expect(name, role).toMatch(/:kms:.*:key\/\*$/);
        expect(actions, role).toEqual(['kms:Decrypt']);
        expect(statement.Condition?.StringEquals, role).toHaveProperty(['kms:ViaService']);
        expect(statement.Condition?.StringEquals, role).toHaveProperty([
          'kms:EncryptionContext:PARAMETER_ARN',
        ]);
      }
    }
  });

  it('names DynamoDB tables and the queue by their own ARNs (an index by its exact name), never by pattern', () => {
    for (const { role, statement } of statements()) {
      const actions = [statement.Action].flat();
      if (
        !actions.some((a) => a.startsWith('dynamodb:') || a.startsWith('sqs:') || a.startsWith('lambda:'))
      ) {
        continue;
      }
      const targets = (
        Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]
      ) as Json[];
      for (const target of targets) {
        if ('Fn::Sub' in target) {
          expect(target, role).toEqual({ 'Fn::Sub': cfn('#{RunsTable.Arn}/index/byStatus') });
          expect(actions, role).toEqual(['dynamodb:Query']);
        } else {
          expect(target, role).toHaveProperty(['Fn::GetAtt']);
        }
      }
    }
  });

  it('denies non-TLS access to the bucket and to every object in it, and allows nothing to anyone', () => {
    const policy = resource('ResultsBucketPolicy').Properties.PolicyDocument as { Statement: Statement[] };
    const deny = policy.Statement.find((s) => s.Condition?.Bool !== undefined);
    expect(((deny?.Resource ?? []) as unknown[]).map(resourceName).sort()).toEqual([
      'ResultsBucket',
      'ResultsBucket/*',
    ]);
    expect(policy.Statement.filter((s) => s.Effect === 'Allow')).toEqual([]);
  });

  it('lets no one but the EventBridge rule invoke a function, and exposes no function URL', () => {
    expect(ofType('AWS::Lambda::Url')).toEqual([]);
    const permissions = ofType('AWS::Lambda::Permission');
    expect(permissions.length).toBeGreaterThan(0);
    for (const [id, permission] of permissions) {
      expect(permission.Properties.Principal, id).not.toBe('*');
      expect(permission.Properties, id).toHaveProperty('SourceArn');
    }
  });

  it('encrypts the tables and the dead-letter queue at rest', () => {
    expect(resource('RunsTable').Properties).toMatchObject({ SSESpecification: { SSEEnabled: true } });
    expect(resource('IdempotencyTable').Properties).toMatchObject({ SSESpecification: { SSEEnabled: true } });
    expect(resource('MatchingWorkerDeadLetterQueue').Properties).toMatchObject({
      SqsManagedSseEnabled: true,
    });
  });

  it('routes nothing without the JWT authorizer (no $default or unauthenticated route)', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route');
    expect(routes.length).toBe(6);
    expect(routes.filter(([, r]) => r.Properties.AuthorizationType !== 'JWT')).toEqual([]);
    expect(routes.map(([, r]) => r.Properties.RouteKey)).not.toContain('$default');
  });
});

describe('bundles', () => {
  async function extract(key: FunctionKey): Promise<{ file: string; bytes: number }> {
    // Inside the project, so the bundles' external imports (the AWS SDK) resolve from node_modules.
    if (!bundleDir) {
      await mkdir(path.join(SERVICE_DIR, '.esbuild'), { recursive: true });
      bundleDir = await mkdtemp(path.join(SERVICE_DIR, '.esbuild', 'bundle-check-'));
    }
    const { stdout } = await run('unzip', ['-p', path.join(packageDir, `${key}.zip`), FUNCTIONS[key]], {
      encoding: 'buffer',
      maxBuffer: 64 * MIB,
    });
    const file = path.join(bundleDir, key, FUNCTIONS[key]);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, stdout);
    return { file, bytes: stdout.byteLength };
  }

  it.each(Object.keys(FUNCTIONS) as FunctionKey[])(
    '%s is one minified ES module of at most 1 MiB',
    async (key) => {
      const { bytes } = await extract(key);
      console.log(`bundle ${key}: ${(bytes / 1024).toFixed(0)} KiB`);
      expect(bytes).toBeGreaterThan(10_000);
      expect(bytes).toBeLessThanOrEqual(MIB);
    },
  );

  it('loads in a fresh Node process and answers an invalid request with a 400 problem', async () => {
    const { file } = await extract('getAccountActions');
    const script = `
      const { handler } = await import(${JSON.stringify(`file://${file}`)});
      const context = { awsRequestId: 'bundle-check', functionName: 'f', getRemainingTimeInMillis: () => 5000 };
      const event = { version: '2.0', routeKey: 'GET /accounts/{number}/actions', headers: {}, pathParameters: { number: '123' }, requestContext: {} };
      const response = await handler(event, context);
      process.stdout.write(JSON.stringify(response));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: SERVICE_DIR,
      env: { PATH: process.env.PATH, POWERTOOLS_LOG_LEVEL: 'SILENT', MONGODB_URI_PARAMETER: '/never/read' },
      timeout: 20_000,
    });
    const response = JSON.parse(stdout) as { statusCode: number; headers: Json; body: string };
    expect(response.statusCode).toBe(400);
    expect(response.headers['Content-Type']).toBe('application/problem+json');
    expect(JSON.parse(response.body).detail).toBe(
      'number: must be exactly 13 characters (Unicode code points), got 3',
    );
  });

  async function filesOf(key: FunctionKey): Promise<string[]> {
    const { stdout } = await run('unzip', ['-Z1', path.join(packageDir, `${key}.zip`)], {
      maxBuffer: 16 * MIB,
    });
    return stdout.split('\n').filter(Boolean).sort();
  }

  it.each(Object.keys(FUNCTIONS) as FunctionKey[])(
    "%s packs its bundle and map, and exceljs' workbook writer only if it writes workbooks",
    async (key) => {
      const bundle = FUNCTIONS[key];
      const expected = (WORKERS as readonly string[]).includes(key)
        ? [bundle, `${bundle}.map`, WORKBOOK_WRITER, `${WORKBOOK_WRITER}.map`]
        : [bundle, `${bundle}.map`];
      expect(await filesOf(key)).toEqual(expected.sort());
    },
  );

  it.each(WORKERS)(
    '%s imports the workbook writer only when a run writes its workbook, and carries no copy of it',
    async (key) => {
      const worker = await readFile((await extract(key)).file, 'utf8');
      expect(worker).toContain('import("./exceljs-workbook-writer.mjs")');
      expect(worker).not.toMatch(/from\s*"\.\/exceljs-workbook-writer\.mjs"/);
      // An XML tag only exceljs writes: the writer's code is not in the bundle.
      expect(worker).not.toContain('sheetFormatPr');
    },
  );

  it('ships a workbook writer of at most 1 MiB that writes a workbook on its own, outside the project', async () => {
    const { stdout: writer } = await run(
      'unzip',
      ['-p', path.join(packageDir, 'matchingWorker.zip'), WORKBOOK_WRITER],
      { encoding: 'buffer', maxBuffer: 16 * MIB },
    );
    console.log(`workbook writer: ${(writer.byteLength / 1024).toFixed(0)} KiB`);
    expect(writer.byteLength).toBeGreaterThan(100_000);
    expect(writer.byteLength).toBeLessThanOrEqual(MIB);
    // In the temporary directory no node_modules can be found: the file needs only Node itself.
    const alone = await mkdtemp(path.join(os.tmpdir(), 'workbook-writer-'));
    try {
      const file = path.join(alone, 'exceljs-workbook-writer.mjs');
      await writeFile(file, writer);
      const script = `
        const { PassThrough } = await import('node:stream');
        const { default: WorkbookWriter } = await import(${JSON.stringify(`file://${file}`)});
        const out = new PassThrough();
        const parts = [];
        out.on('data', (chunk) => parts.push(chunk));
        const workbook = new WorkbookWriter({ stream: out, useStyles: true });
        const sheet = workbook.addWorksheet('Check');
        sheet.addRow(['id', 'value']).commit();
        sheet.addRow(['007', 42]).commit();
        sheet.commit();
        await workbook.commit();
        process.stdout.write(Buffer.concat(parts).toString('base64'));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: alone,
        env: { PATH: process.env.PATH },
        timeout: 20_000,
        maxBuffer: 16 * MIB,
      });
      const [sheet] = readWorkbook(Buffer.from(stdout, 'base64'));
      expect(sheet?.name).toBe('Check');
      expect(sheet?.rows.map((row) => row.map((cell) => cell?.value))).toEqual([
        ['id', 'value'],
        ['007', 42],
      ]);
    } finally {
      await rm(alone, { recursive: true, force: true });
    }
  });

  it('keeps Powertools idempotency and the PaymentsImported schemas out of the matchingWorker bundle', async () => {
    const worker = await readFile((await extract('matchingWorker')).file, 'utf8');
    const events = await readFile((await extract('paymentsImportedWorker')).file, 'utf8');
    for (const marker of ['IdempotencyAlreadyInProgressError', 'billing.payments']) {
      expect(events, marker).toContain(marker);
      expect(worker, marker).not.toContain(marker);
    }
  });

  it('keeps the S3 and Lambda clients out of the listMatchingRuns bundle: it only queries DynamoDB', async () => {
    const list = await readFile((await extract('listMatchingRuns')).file, 'utf8');
    const get = await readFile((await extract('getMatchingRun')).file, 'utf8');
    expect(list).toContain('@aws-sdk/lib-dynamodb');
    expect(get).toContain('@aws-sdk/client-s3');
    for (const client of ['@aws-sdk/client-s3', '@aws-sdk/client-lambda', '@aws-sdk/s3-request-presigner']) {
      expect(list, client).not.toContain(client);
    }
  });

  it.each([
    'matchingWorker',
    'paymentsImportedWorker',
    ...STEPS,
    'createMatchingRun',
    'getMatchingRun',
    'listMatchingRuns',
    'getMatchingRunPartition',
  ] as const)('%s initialises in a fresh Node process', async (key) => {
    const { file } = await extract(key);
    const script = `const m = await import(${JSON.stringify(`file://${file}`)}); process.stdout.write(typeof m.handler);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: SERVICE_DIR,
      env: { PATH: process.env.PATH, POWERTOOLS_LOG_LEVEL: 'SILENT', MONGODB_URI_PARAMETER: '/never/read' },
      timeout: 20_000,
    });
    expect(stdout).toBe('function');
  });
});
