// Log Analytics + workspace-based Application Insights. Local (instrumentation
// key) auth is disabled: telemetry is accepted only from an Entra identity with
// Monitoring Metrics Publisher on this component (see rbac.bicep).

param logAnalyticsName string
param appInsightsName string
param location string
param tags object

@description('Daily ingestion cap in GB, as a decimal string (a circuit breaker, not the expected volume).')
param dailyCapGb string

@minValue(30)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    // 30 days is inside the free retention; longer retention is billed per GB-month.
    retentionInDays: retentionInDays
    workspaceCapping: {
      dailyQuotaGb: json(dailyCapGb)
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
    RetentionInDays: retentionInDays
  }
}

output appInsightsName string = appInsights.name
output workspaceName string = workspace.name
