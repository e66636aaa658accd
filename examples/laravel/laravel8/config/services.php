<?php

return [
    'revocation' => [
        'url' => env('REVOCATION_URL', 'http://revocation:8000'),
        'guard' => env('REVOCATION_GUARD', 'verify'),
        'app_id' => env('REVOCATION_APP_ID', ''),
        'app_key' => env('REVOCATION_APP_KEY', ''),
    ],
];
