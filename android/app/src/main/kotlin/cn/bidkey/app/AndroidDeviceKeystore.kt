package cn.bidkey.app

import android.content.Context
import android.content.pm.PackageManager
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import cn.bidkey.core.BidkeyException
import cn.bidkey.core.DeviceKeystore
import java.security.GeneralSecurityException
import java.security.KeyStore
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The core's DeviceKeystore on Android Keystore: one AES-256-GCM key per alias, generated inside
 * the keystore (non-exportable), in StrongBox when the phone has one. Sealed data is
 * `iv (12 bytes) || ciphertext+tag` with the alias as associated data, so a blob cannot be
 * opened under another alias. Any keystore failure becomes `BidkeyException.Keystore`.
 */
class AndroidDeviceKeystore(context: Context) : DeviceKeystore {
    private val hasStrongBox = context.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)
    private val keyStore = KeyStore.getInstance(PROVIDER).apply { load(null) }

    override fun seal(alias: String, plaintext: ByteArray): ByteArray = guarded {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        // The keystore picks the IV (randomized encryption is required for these keys).
        cipher.init(Cipher.ENCRYPT_MODE, key(alias))
        cipher.updateAAD(alias.toByteArray())
        val iv = cipher.iv
        check(iv.size == IV_BYTES) { "unexpected IV length ${iv.size}" }
        iv + cipher.doFinal(plaintext)
    }

    override fun open(alias: String, sealed: ByteArray): ByteArray = guarded {
        if (sealed.size < IV_BYTES + TAG_BITS / 8) throw BidkeyException.Keystore("sealed data too short")
        val existing = keyStore.getKey(keyAlias(alias), null) as? SecretKey
            ?: throw BidkeyException.Keystore("no device key for $alias (app data restored to another phone?)")
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, existing, GCMParameterSpec(TAG_BITS, sealed, 0, IV_BYTES))
        cipher.updateAAD(alias.toByteArray())
        try {
            cipher.doFinal(sealed, IV_BYTES, sealed.size - IV_BYTES)
        } catch (e: AEADBadTagException) {
            throw BidkeyException.Keystore("sealed data does not open with this device key")
        }
    }

    @Synchronized
    private fun key(alias: String): SecretKey {
        (keyStore.getKey(keyAlias(alias), null) as? SecretKey)?.let { return it }
        return if (hasStrongBox) {
            try {
                generate(alias, strongBox = true)
            } catch (e: StrongBoxUnavailableException) {
                generate(alias, strongBox = false)
            }
        } else {
            generate(alias, strongBox = false)
        }
    }

    private fun generate(alias: String, strongBox: Boolean): SecretKey {
        val spec = KeyGenParameterSpec.Builder(keyAlias(alias), KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
            .setRandomizedEncryptionRequired(true)
            .setIsStrongBoxBacked(strongBox)
            .build()
        return KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, PROVIDER).run {
            init(spec)
            generateKey()
        }
    }

    private inline fun <T> guarded(block: () -> T): T = try {
        block()
    } catch (e: BidkeyException) {
        throw e
    } catch (e: GeneralSecurityException) {
        throw BidkeyException.Keystore(e.javaClass.simpleName + ": " + (e.message ?: ""))
    } catch (e: IllegalStateException) {
        throw BidkeyException.Keystore(e.message ?: "keystore state")
    }

    private fun keyAlias(alias: String) = "bidkey.$alias"

    private companion object {
        const val PROVIDER = "AndroidKeyStore"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
        const val TAG_BITS = 128
    }
}
