<?php

return [
    'name' => 'revocation-example',
    'env' => 'production',
    'debug' => false,
    'providers' => [App\Providers\AppServiceProvider::class],
    'aliases' => [],
];
