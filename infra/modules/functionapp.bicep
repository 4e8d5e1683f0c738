// The function app on a Flex Consumption plan (FC1, Linux, Python 3.11).

param planName string
param appName string
param location string
param tags object

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

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
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
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    // Key Vault references (the stream-token key) resolve with the user-assigned identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
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
    functionAppConfig: {
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
  }
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
