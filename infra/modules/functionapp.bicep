// The function app, Python 3.11 on Linux, on one of two plans (main.bicep `hostingPlan`):
//   flex       Flex Consumption (FC1): billed per GB-s while executions run, scales per function
//   dedicated  an App Service plan (B1 by default): a flat hourly price, always on, fixed instances
// Everything else (identity, settings, CORS, Easy Auth, publishing policies) is the same in both;
// only the plan and the site's configuration differ (docs/cost.md says when to pick which).

param planName string
param appName string
param location string
param tags object

@allowed([
  'flex'
  'dedicated'
])
@description('flex: Flex Consumption (FC1). dedicated: an App Service plan of dedicatedSku.')
param hostingPlan string

@description('App Service plan SKU when hostingPlan is dedicated (Linux).')
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
param dedicatedSku string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string
param storageAccountName string
param deploymentContainerName string
param appInsightsName string

@description('App settings built in main.bicep (every setting the code reads, plus platform settings).')
param appSettings object

@description('Angular origins for platform CORS (the same list as CORS_ALLOWED_ORIGINS).')
param corsAllowedOrigins array

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int

@allowed([
  'easyauth'
  'bearer'
])
param authMode string

@description('Client id of the Entra app registration that Easy Auth validates tokens for (easyauth mode).')
param authClientId string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var isFlex = hostingPlan == 'flex'

// The tier each allowed dedicated SKU belongs to.
var dedicatedTiers = {
  B1: 'Basic'
  B2: 'Basic'
  B3: 'Basic'
  S1: 'Standard'
  S2: 'Standard'
  S3: 'Standard'
  P0v3: 'PremiumV3'
  P1v3: 'PremiumV3'
}
var flexPlanSku = {
  name: 'FC1'
  tier: 'FlexConsumption'
}
// One instance: the flat price the cost model counts (docs/cost.md). Basic scales out by hand
// to 3 instances, Standard and up to 10 or more, each instance billed at the full hourly price.
var dedicatedPlanSku = {
  name: dedicatedSku
  tier: dedicatedTiers[dedicatedSku]
  capacity: 1
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'linux'
  sku: isFlex ? flexPlanSku : dedicatedPlanSku
  properties: {
    reserved: true // Linux
  }
}

// Flex only: deployment from the blob container, scale and per-instance concurrency, the runtime.
// A Dedicated site has no functionAppConfig at all (the property is left out, not null).
var flexFunctionAppConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
      authentication: {
        type: 'UserAssignedIdentity'
        userAssignedIdentityResourceId: identityId
      }
    }
  }
  scaleAndConcurrency: {
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    triggers: {
      http: {
        // Flex bills each instance (memory x time) while any execution is active, and
        // an open SSE stream is an active execution for up to SSE_STREAM_LIFETIME_SECONDS.
        // The handlers are async and one process holds thousands of streams, so streams
        // should share an instance: with the platform default (a few per instance) every
        // handful of viewers would start, and pay for, another instance. 1000 is the
        // platform maximum and stays below SSE_MAX_STREAMS, so the platform scales out
        // before the app has to answer 503.
        perInstanceConcurrency: httpPerInstanceConcurrency
      }
    }
  }
  runtime: {
    name: 'python'
    version: '3.11'
  }
}

// The same on both plans.
var commonSiteConfig = {
  // HTTP/2 multiplexes every EventSource of a tab over one connection, which also
  // lifts the browser's 6-connections-per-host limit of HTTP/1.1.
  http20Enabled: true
  minTlsVersion: '1.2'
  scmMinTlsVersion: '1.2'
  ftpsState: 'Disabled'
  // Credentials on: the stream endpoints authenticate with an HttpOnly cookie that the
  // token endpoints set, and a cross-origin SPA sends it only when the answer names its
  // origin and allows credentials. Only the listed origins get that, never '*'. Platform
  // CORS answers instead of the app's middleware in Azure.
  cors: {
    allowedOrigins: corsAllowedOrigins
    supportCredentials: true
  }
}

// Dedicated only: the runtime stack (Flex takes it from functionAppConfig.runtime) and Always On,
// without which the host idles after about 20 minutes without HTTP traffic and the Service Bus
// trigger and the sweeper's timer stop. HTTP concurrency per instance on Dedicated is the
// host's extensions.http.maxConcurrentRequests, unbounded by default on a Dedicated plan
// (host.json leaves it unset): the app's own SSE_MAX_STREAMS is the cap there.
var dedicatedSiteConfig = {
  linuxFxVersion: 'Python|3.11'
  alwaysOn: true
}

// The site's properties on both plans; Flex adds functionAppConfig (below, in `site`).
var siteProperties = {
  serverFarmId: plan.id
  httpsOnly: true
  clientAffinityEnabled: false
  publicNetworkAccess: 'Enabled'
  // Key Vault references (the stream-token key) resolve with the user-assigned identity.
  keyVaultReferenceIdentity: identityId
  siteConfig: union(commonSiteConfig, isFlex ? {} : dedicatedSiteConfig)
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: union(siteProperties, isFlex ? { functionAppConfig: flexFunctionAppConfig } : {})
}

resource appSettingsConfig 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(appSettings, {
    // Not a secret: an instrumentation key and endpoints. Local auth is disabled on the
    // component, so it only works together with the identity in APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  })
}

// Easy Auth validates Entra tokens and sets X-MS-CLIENT-PRINCIPAL-ID, which the code
// trusts in easyauth mode. Unauthenticated requests are let through (the SSE stream
// carries its own credential, the stream cookie or the query token; /api/health is public) and the code answers
// 401 where a principal is needed. With the platform enabled, client-sent X-MS-* headers
// are stripped, so they cannot be forged.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (authMode == 'easyauth') {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: !empty(authClientId)
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            authClientId
            'api://${authClientId}'
          ]
        }
      }
    }
  }
}

// No basic-auth publishing: FTP is off and deployments use Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
