<?php

declare(strict_types=1);

// Without Composer: Revocation\X is src/X.php (with Composer, a psr-4 entry does this).
spl_autoload_register(function (string $class): void {
    $prefix = 'Revocation\\';
    if (str_starts_with($class, $prefix)) {
        require __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    }
});
