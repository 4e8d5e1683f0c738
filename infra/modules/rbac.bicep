// Least-privilege role assignments for the app's user-assigned identity.
// Every data-plane access the code or the Functions host makes is listed here,
// each at the narrowest scope that works:
//
//   access                                         role                              scope
//   host state (blob leases, timers), deployment   Storage Blob Data Owner           storage account (dedicated to this app)
//   job tables + the host's diagnostic events      Storage Table Data Contributor    storage account (the host creates a table a month)
//   jobs queue + poison (storage backend only)     Storage Queue Data Contributor    storage account (the host creates the poison queue)
//   send start requests (servicebus backend)       Azure Service Bus Data Sender     the jobs queue
//   trigger receive, health-check peek             Azure Service Bus Data Receiver   the jobs queue
//   telemetry with Entra auth                      Monitoring Metrics Publisher      the Application Insights component
//   Key Vault reference to the signing key(s)      Key Vault Secrets User            each secret

param principalId string
param storageAccountName string

@allowed([
  'servicebus'
  'storage'
])
param queueBackend string
param serviceBusNamespaceName string
param jobsQueueName string
param appInsightsName string
param keyVaultName string
param hasPreviousSigningKey bool

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName

  resource jobsQueue 'queues' existing = {
    name: jobsQueueName
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName

  resource signingKey 'secrets' existing = {
    name: 'stream-token-signing-key'
  }

  resource previousKey 'secrets' existing = {
    name: 'stream-token-previous-key'
  }
}

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// On the account, not on the three job tables: AzureWebJobsStorage__tableServiceUri also
// tells the Functions host where to write its diagnostic events, into a table it creates
// each month (AzureFunctionsDiagnosticEvents<yyyyMM>) and deletes later, so no per-table
// scope can cover it (a 403 AuthorizationPermissionMismatch on every write otherwise). The
// account holds only this app's data, as for the blob role above.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (queueBackend == 'storage') {
  name: guid(storage.id, principalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
  }
}

resource serviceBusSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (queueBackend == 'servicebus') {
  name: guid(serviceBus::jobsQueue.id, principalId, roles.serviceBusDataSender)
  scope: serviceBus::jobsQueue
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
  }
}

resource serviceBusReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (queueBackend == 'servicebus') {
  name: guid(serviceBus::jobsQueue.id, principalId, roles.serviceBusDataReceiver)
  scope: serviceBus::jobsQueue
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

resource signingKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault::signingKey.id, principalId, roles.keyVaultSecretsUser)
  scope: vault::signingKey
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource previousKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasPreviousSigningKey) {
  name: guid(vault::previousKey.id, principalId, roles.keyVaultSecretsUser)
  scope: vault::previousKey
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}
