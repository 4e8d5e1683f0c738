// Service Bus carries start requests to the worker. Basic tier by default:
// queues only, billed per operation, no base charge. SAS (local) auth is off:
// the app connects with its managed identity.

param name string
param location string
param tags object

@allowed([
  'Basic'
  'Standard'
])
param sku string

param queueName string

@description('Deliveries before a message is dead-lettered. Equals JOBS_MAX_DELIVERY_COUNT and host.json maxDequeueCount.')
param maxDeliveryCount int

@description('Peek-lock duration. The trigger renews the lock (host.json maxAutoLockRenewalDuration), so this bounds only how long a message from a crashed worker waits before redelivery.')
param lockDuration string

@description('A start request not picked up within this time is dead-lettered; the sweeper fails the job at its deadline.')
param defaultMessageTimeToLive string

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    maxDeliveryCount: maxDeliveryCount
    lockDuration: lockDuration
    defaultMessageTimeToLive: defaultMessageTimeToLive
    deadLetteringOnMessageExpiration: true
    maxSizeInMegabytes: 1024
    requiresSession: false
    // Standard only (Basic has no duplicate detection). The app sends message_id = job id,
    // so a re-sent start within the window (default 10 minutes) is dropped. Fixed at creation.
    requiresDuplicateDetection: sku == 'Standard'
  }
}

output name string = namespace.name
// host name only (no key, no connection string): https://<host>:443/ -> <host>
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]
