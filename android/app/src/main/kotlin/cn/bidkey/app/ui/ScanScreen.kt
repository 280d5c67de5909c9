package cn.bidkey.app.ui

import cn.bidkey.app.R
import android.Manifest
import android.graphics.BitmapFactory
import android.content.pm.PackageManager
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.*
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.platform.LocalLifecycleOwner
import androidx.compose.ui.unit.dp
import androidx.compose.ui.viewinterop.AndroidView
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.scan.ScanText
import cn.bidkey.shared.scan.ScanViewModel
import com.google.mlkit.vision.barcode.BarcodeScannerOptions
import com.google.mlkit.vision.barcode.BarcodeScanning
import com.google.mlkit.vision.barcode.common.Barcode
import com.google.mlkit.vision.common.InputImage
import java.util.concurrent.Executors

/** 扫一扫: the camera finds a QR, the core parses and checks it, the person confirms with the PIN. */
@Composable
fun ScanScreen(vm: ScanViewModel, w: Words, onSessions: () -> Unit) {
    val context = LocalContext.current
    var granted by remember {
        mutableStateOf(ContextCompat.checkSelfPermission(context, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED)
    }
    val ask = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { granted = it }
    val request by vm.request.collectAsStateWithLifecycle()
    val outcome by vm.outcome.collectAsStateWithLifecycle()
    var askPin by remember { mutableStateOf(false) }
    LaunchedEffect(Unit) { if (!granted) ask.launch(Manifest.permission.CAMERA) }
    ScreenFrame(w(R.string.scan), vm, w) {
        if (granted) {
            QrCamera(Modifier.fillMaxWidth().height(360.dp), onQr = vm::scanned)
        } else {
            Text(w(R.string.scanning_needs_the_camera_permission))
        }
        TextButton(onClick = onSessions) { Text(w(R.string.sessions)) }
        outcome?.let { Text(w(R.string.done_2) + ScanText.kind(it.kind, w.lang)) }
    }
    var autoConfirm by remember { mutableStateOf(false) }
    request?.let { r ->
        AlertDialog(
            onDismissRequest = {},
            title = { Text(r.platformName) },
            text = {
                Column {
                    // Origin, the four digits to compare, what is asked (documents with digests,
                    // files, session terms) and the certificate: ScanText.details in the app's language.
                    vm.details().forEach { Text(it) }
                    // The seal images the server holds for the seals to be placed.
                    r.documents.mapNotNull { it.seal }.forEach { s ->
                        BitmapFactory.decodeByteArray(s.imagePng, 0, s.imagePng.size)?.let { bmp ->
                            Image(bmp.asImageBitmap(), contentDescription = s.sealName, modifier = Modifier.size(64.dp))
                        }
                    }
                    if (vm.offersAutoConfirm()) {
                        Row {
                            Switch(checked = autoConfirm, onCheckedChange = { autoConfirm = it })
                            Text(w(R.string.auto_confirm_later_signing_and_login))
                        }
                    }
                }
            },
            confirmButton = { TextButton(onClick = { askPin = true }) { Text(w(R.string.confirm)) } },
            dismissButton = { TextButton(onClick = { vm.reject() }) { Text(w(R.string.reject_2)) } },
        )
    }
    // Every confirmation takes the PIN; a wrong one leaves the request open for another try.
    if (askPin) PinPadDialog(w(R.string.pin), w, onPin = { askPin = false; vm.confirm(it, autoConfirm) }, onCancel = { askPin = false })
}

/** CameraX preview with an ML Kit analyser that reports QR codes' raw text. */
@Composable
private fun QrCamera(modifier: Modifier, onQr: (String) -> Unit) {
    val owner = LocalLifecycleOwner.current
    val executor = remember { Executors.newSingleThreadExecutor() }
    val scanner = remember {
        BarcodeScanning.getClient(BarcodeScannerOptions.Builder().setBarcodeFormats(Barcode.FORMAT_QR_CODE).build())
    }
    DisposableEffect(Unit) {
        onDispose {
            scanner.close()
            executor.shutdown()
        }
    }
    AndroidView(modifier = modifier, factory = { ctx ->
        val view = PreviewView(ctx)
        val providerFuture = ProcessCameraProvider.getInstance(ctx)
        providerFuture.addListener({
            val provider = providerFuture.get()
            val preview = Preview.Builder().build().also { it.setSurfaceProvider(view.surfaceProvider) }
            val analysis = ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .build()
            analysis.setAnalyzer(executor) { proxy -> analyse(proxy, scanner, onQr) }
            provider.unbindAll()
            provider.bindToLifecycle(owner, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
        }, ContextCompat.getMainExecutor(ctx))
        view
    })
}

@androidx.annotation.OptIn(androidx.camera.core.ExperimentalGetImage::class)
private fun analyse(proxy: ImageProxy, scanner: com.google.mlkit.vision.barcode.BarcodeScanner, onQr: (String) -> Unit) {
    val media = proxy.image ?: return proxy.close()
    scanner.process(InputImage.fromMediaImage(media, proxy.imageInfo.rotationDegrees))
        .addOnSuccessListener { codes -> codes.firstNotNullOfOrNull { it.rawValue }?.let(onQr) }
        .addOnCompleteListener { proxy.close() }
}
