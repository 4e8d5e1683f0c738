// Job-completion notifications on Azure Functions, deployed by `azd up`.
//
// Creates, in one resource group: a user-assigned identity, a storage account (host,
// deployment package, status tables), a Service Bus namespace with the jobs queue, a Key
// Vault with the stream-token signing key, Log Analytics + Application Insights, and the
// function app on a Flex Consumption (FC1) plan, or with hostingPlan=dedicated on an App
// Service plan (B1 by default). No keys or connection strings are created, stored or
// output: every connection uses the identity.

targetScope = 'subscription'

// ---------------------------------------------------------------- environment

@minLength(1)
@maxLength(64)
@description('azd environment name; resource names and tags derive from it.')
param environmentName string

@minLength(1)
@description('Region for every resource. It must offer Flex Consumption.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name. Empty: rg-<environmentName>.')
param resourceGroupName string = ''

// ---------------------------------------------------------------- the app's surface

@minLength(1)
@description('Angular origins allowed by CORS, comma-separated, e.g. https://app.example.com. `*` is refused by the app in Azure.')
param corsAllowedOrigins string

@allowed([
  'easyauth'
  'bearer'
])
@description('easyauth: App Service Authentication (Entra ID) validates callers. bearer: the app validates Authorization: Bearer tokens against AUTH_BEARER_*.')
param authMode string = 'easyauth'

@description('easyauth: client id of the Entra app registration the Angular app requests tokens for.')
param authClientId string = ''

@description('bearer: expected token issuer.')
param authBearerIssuer string = ''

@description('bearer: expected token audience.')
param authBearerAudience string = ''

@description('bearer: JWKS URL of the issuer.')
param authBearerJwksUrl string = ''

// ---------------------------------------------------------------- stream tokens

@secure()
@minLength(32)
@description('Stream-token signing key (32+ characters). The azd preprovision hook generates one per environment; it is stored in Key Vault and referenced from app settings.')
param streamTokenSigningKey string

@secure()
@description('Key rotation only: the key being retired, still accepted until streamTokenPreviousKeyUntil. Empty otherwise.')
param streamTokenPreviousKey string = ''

@description('Key rotation only: ISO-8601 UTC instant after which the previous key is refused.')
param streamTokenPreviousKeyUntil string = ''

// ---------------------------------------------------------------- scale and cost

// The same app, identity, roles, Service Bus, tables, Key Vault and telemetry on both; only
// the plan and the site's configuration differ (modules/functionapp.bicep). Which is cheaper
// depends on the load: `python infra/cost_model.py` prints both and recommends one.
@allowed([
  'flex'
  'dedicated'
])
@description('flex: Flex Consumption (FC1), billed per GB-s while executions run. dedicated: an App Service plan (dedicatedSku), a flat hourly price, always on. Switching an existing deployment: infra/README.md.')
param hostingPlan string = 'flex'

@allowed([
  'B1'
  'B2'
  'B3'
  'S1'
  'S2'
  'S3'
  'P0v3'
  'P1v3'
])
@description('App Service plan SKU (Linux) when hostingPlan is dedicated; unused on flex. B1 is the plan this design replaces.')
param dedicatedSku string = 'B1'

@allowed([
  512
  2048
  4096
])
@description('Flex instance memory. GB-s are billed on this size while an instance is active; 512 keeps the design inside a B1 budget (see docs/cost.md).')
param instanceMemoryMB int = 512

@minValue(40)
@maxValue(1000)
@description('Upper bound on instances per function group: the hard ceiling on scale, and so on spend.')
param maximumInstanceCount int = 40

@minValue(1)
@maxValue(1000)
@description('Concurrent HTTP executions (mostly open SSE streams) per instance. See the comment in modules/functionapp.bicep.')
param httpPerInstanceConcurrency int = 1000

@allowed([
  'Basic'
  'Standard'
])
@description('Service Bus tier. Basic: queues only, per-operation billing, no base charge. Standard adds duplicate detection for a monthly base charge.')
param serviceBusSku string = 'Basic'

@description('Log Analytics daily ingestion cap in GB (decimal string). A circuit breaker against runaway logging.')
param logDailyCapGb string = '0.3'

@description('Monthly budget alert in USD on the resource group (the B1 plan this replaces). Used only with budgetContactEmails.')
param monthlyBudgetUsd int = 13

@description('E-mail addresses for the budget alert, comma-separated. Empty: no budget is created.')
param budgetContactEmails string = ''

// Not utcNow(): ARM refuses to change a budget's start date, so a new date on every
// provision would fail every month after the first. The azd preprovision hook stores the
// month the budget is first wanted in the environment (BUDGET_START_DATE), once. Empty by
// default: without e-mails no budget is made and the hook sets no date, and a parameter
// without a default would make azd prompt (and `azd up --no-prompt` fail).
@description('First day of the budget period (yyyy-MM-01), fixed for the life of the budget. Set once by the azd preprovision hook when budgetContactEmails is first set; unused without it.')
param budgetStartDate string = ''

// ---------------------------------------------------------------- jobs

@allowed([
  'servicebus'
  'storage'
])
@description('Queue that carries start requests to the worker.')
param jobsQueueBackend string = 'servicebus'

@description('Name of the jobs queue (Service Bus queue, or Storage queue with the storage backend).')
param jobsQueueName string = 'jobs'

@minValue(1)
@maxValue(10)
@description('Deliveries before a start request is dead-lettered. Must equal host.json extensions.queues.maxDequeueCount.')
param jobsMaxDeliveryCount int = 5

// PT1M: the trigger renews the lock for as long as the job runs (host.json
// maxAutoLockRenewalDuration = functionTimeout = 70 min), at about one renewal a minute,
// which costs nothing on Basic. The lock only matters when a worker dies: its message is
// redelivered one minute later instead of five.
@description('Service Bus peek-lock duration (ISO 8601).')
param jobsLockDuration string = 'PT1M'

@description('Service Bus message time-to-live (ISO 8601), longer than the longest job timeout (a test checks). Expired start requests are dead-lettered; the sweeper fails their jobs at the deadline.')
param jobsMessageTimeToLive string = 'PT2H'

@description('Prefix of the status tables: <prefix>, <prefix>feed, <prefix>active.')
param jobsTablePrefix string = 'jobs'

// Every 5 minutes, not every minute: the sweeper is the backstop (a dead worker's message is
// redelivered after jobsLockDuration, a live run fails itself at its deadline), so a slower
// schedule only delays the rare job it ends by up to 5 minutes past its deadline, while on Flex
// each run bills at least 1 s of an instance and writes the timer's status blob (docs/cost.md).
@description('NCRONTAB schedule of the sweeper (fails overdue jobs, trims the change feed).')
param jobsSweepSchedule string = '0 */5 * * * *'

@description('Per-job-type timeout overrides in seconds, as JSON, e.g. {"StoryPublish": 900}.')
param jobsTimeoutOverrides string = '{}'

// ---------------------------------------------------------------- names

var abbrs = {
  identity: 'id-'
  storage: 'st'
  serviceBus: 'sb-'
  keyVault: 'kv-'
  logAnalytics: 'log-'
  appInsights: 'appi-'
  plan: 'plan-'
  functionApp: 'func-'
}
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.functionApp}${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var tableNames = [
  jobsTablePrefix
  '${jobsTablePrefix}feed'
  '${jobsTablePrefix}active'
]
var budgetEmails = filter(map(split(budgetContactEmails, ','), email => trim(email)), email => !empty(email))
// Platform CORS gets the list settings.py makes of CORS_ALLOWED_ORIGINS: split on commas,
// trimmed, empty entries dropped, trailing '/' dropped. An origin is scheme://host[:port],
// so its first three '/'-separated parts are all of it (anything longer the app refuses).
// Platform CORS allows credentials (the stream cookie), so no wildcard entry ever reaches
// it: the hook refuses one, the app refuses '*' in Azure, and it is dropped here as well.
var corsEntries = filter(
  map(split(corsAllowedOrigins, ','), origin => trim(origin)),
  origin => !empty(origin) && !contains(origin, '*')
)
var corsOrigins = map(corsEntries, origin => join(take(split(origin, '/'), 3), '/'))
var storageQueueNames = jobsQueueBackend == 'storage' ? [jobsQueueName, '${jobsQueueName}-poison'] : []

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------- resources

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.identity}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.logAnalytics}${resourceToken}'
    appInsightsName: '${abbrs.appInsights}${resourceToken}'
    location: location
    tags: tags
    dailyCapGb: logDailyCapGb
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storage}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    tableNames: tableNames
    queueNames: storageQueueNames
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: '${abbrs.serviceBus}${resourceToken}'
    location: location
    tags: tags
    sku: serviceBusSku
    queueName: jobsQueueName
    maxDeliveryCount: jobsMaxDeliveryCount
    lockDuration: jobsLockDuration
    defaultMessageTimeToLive: jobsMessageTimeToLive
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVault}${resourceToken}'
    location: location
    tags: tags
    signingKey: streamTokenSigningKey
    previousSigningKey: streamTokenPreviousKey
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    queueBackend: jobsQueueBackend
    serviceBusNamespaceName: serviceBus.outputs.name
    jobsQueueName: jobsQueueName
    appInsightsName: monitoring.outputs.appInsightsName
    keyVaultName: keyVault.outputs.name
    hasPreviousSigningKey: !empty(streamTokenPreviousKey)
  }
}

// ---------------------------------------------------------------- app settings
// Every setting the code reads (settings.setting_names(): `both`, `azure`, and the
// `optional` ones when their mode is used), under the same names, plus a few platform
// settings. Connection strings (`local` settings) never appear here. `tuning` settings
// (SSE_*, WATCH_*, STREAM_TOKEN_TTL_SECONDS, MAX_REQUEST_BYTES) are left out: the code's
// defaults apply; add one here only to change it.
// APPLICATIONINSIGHTS_CONNECTION_STRING is added in modules/functionapp.bicep.

var baseAppSettings = {
  // platform: identity-based host storage and triggers, streaming, telemetry auth
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
  AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
  AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identity.outputs.clientId
  ServiceBusConnection__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
  PYTHON_ENABLE_INIT_INDEXING: '1'

  // jobs
  JOBS_QUEUE_BACKEND: jobsQueueBackend
  JOBS_QUEUE_NAME: jobsQueueName
  JOBS_MAX_DELIVERY_COUNT: string(jobsMaxDeliveryCount)
  JOBS_TABLE_PREFIX: jobsTablePrefix
  JOBS_TIMEOUT_OVERRIDES: jobsTimeoutOverrides
  JOBS_SWEEP_SCHEDULE: jobsSweepSchedule

  // stream tokens
  STREAM_TOKEN_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.signingKeySecretUri})'

  // HTTP surface
  AUTH_MODE: authMode
  CORS_ALLOWED_ORIGINS: corsAllowedOrigins
}

// optional: bearer mode only
var bearerAppSettings = authMode == 'bearer' ? {
  AUTH_BEARER_ISSUER: authBearerIssuer
  AUTH_BEARER_AUDIENCE: authBearerAudience
  AUTH_BEARER_JWKS_URL: authBearerJwksUrl
} : {}

// optional: only while a signing-key rotation is under way
var rotationAppSettings = !empty(streamTokenPreviousKey) ? {
  STREAM_TOKEN_PREVIOUS_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.previousKeySecretUri})'
  STREAM_TOKEN_PREVIOUS_KEY_UNTIL: streamTokenPreviousKeyUntil
} : {}

// Dedicated plan only: what Flex takes from functionAppConfig (and refuses as app settings).
// FUNCTIONS_EXTENSION_VERSION and FUNCTIONS_WORKER_RUNTIME select the host and the Python
// worker; SCM_DO_BUILD_DURING_DEPLOYMENT and ENABLE_ORYX_BUILD make `azd deploy`'s zip deploy
// build requirements.txt remotely (Flex builds remotely on its own). PYTHON_ENABLE_INIT_INDEXING
// is in the base settings: streaming needs it on both plans.
var dedicatedAppSettings = hostingPlan == 'dedicated' ? {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'python'
  SCM_DO_BUILD_DURING_DEPLOYMENT: 'true'
  ENABLE_ORYX_BUILD: 'true'
} : {}

var appSettings = union(baseAppSettings, bearerAppSettings, rotationAppSettings, dedicatedAppSettings)

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    hostingPlan: hostingPlan
    dedicatedSku: dedicatedSku
    planName: '${abbrs.plan}${resourceToken}'
    appName: functionAppName
    location: location
    tags: tags
    identityId: identity.outputs.id
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    appSettings: appSettings
    corsAllowedOrigins: corsOrigins
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    authMode: authMode
    authClientId: authClientId
  }
  // The app must not start before it may read its storage, queue, secret and telemetry.
  dependsOn: [
    rbac
  ]
}

module budget 'modules/budget.bicep' = if (!empty(budgetEmails)) {
  name: 'budget'
  scope: rg
  params: {
    name: 'budget-${environmentName}'
    amount: monthlyBudgetUsd
    contactEmails: budgetEmails
    startDate: budgetStartDate
  }
}

// ---------------------------------------------------------------- outputs (names and URLs only)

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output SERVICEBUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output HOSTING_PLAN string = hostingPlan
output API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
